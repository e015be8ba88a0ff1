"""Checks ``otter grade`` end to end on this machine: builds Otter's image from the committed zip and grades three
notebooks in it, then compares its CSV with the same notebooks graded through the route here.

    python -m tools.grade.otter_grade_check [--out DIR] [--containers N]        (make otter-grade)

The notebooks: the executed solutions (full marks), the blank student notebook, and the solutions with one
mistake (2(b) answered True: one point lost). Each question's points in ``otter grade``'s ``final_grades.csv``
must equal what ``make gradescope`` gives the same notebook. Needs Docker with the buildx plugin and the network
once (the image build downloads what setup.sh installs: docs/grading.md); where Docker, its engine or buildx is
missing, it says what is missing and stops (exit 2). Not part of ``make test``: CI has no Docker.
"""

import argparse
import csv
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import nbformat

from tools import ROOT
from tools.grade import gradescope

NOTEBOOKS = ("solution", "blank", "one_mistake")
MISTAKE = ("l1_closed_form_exists = False", "l1_closed_form_exists = True")  # 2(b): one point


def missing(docker: str | None = None) -> list[str]:
    """What this machine lacks for otter grade: [] when Docker, its engine and buildx are there."""
    docker = docker or shutil.which("docker")
    if docker is None:
        return ["Docker (the docker command is not on PATH: install docker.io, or Docker's own packages)"]
    problems = []
    try:
        if subprocess.run([docker, "info"], capture_output=True, timeout=60).returncode != 0:
            problems.append("a running Docker engine (docker info failed: start dockerd, or join the docker group)")
    except (OSError, subprocess.TimeoutExpired) as error:
        problems.append(f"a running Docker engine ({type(error).__name__})")
    try:
        if subprocess.run([docker, "buildx", "version"], capture_output=True, timeout=60).returncode != 0:
            problems.append("the buildx plugin (Otter builds with docker buildx: install docker-buildx)")
    except (OSError, subprocess.TimeoutExpired) as error:
        problems.append(f"the buildx plugin ({type(error).__name__})")
    return problems


def notebooks(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """The three notebooks, written into ``folder``: {name: path}."""
    paths = {name: folder / f"{name}.ipynb" for name in NOTEBOOKS}
    nbformat.write(nbformat.read(gradescope.SOLUTIONS, as_version=4), paths["solution"])
    shutil.copyfile(ROOT / "student" / "hw1.ipynb", paths["blank"])
    nbformat.write(gradescope.submission_from_solution([MISTAKE]), paths["one_mistake"])
    return paths


def otter_grade(
    folder: pathlib.Path,
    out: pathlib.Path,
    containers: int,
    autograder_zip: pathlib.Path = gradescope.RELEASE_ZIP,
    image: str | None = None,
) -> tuple[dict[str, dict[str, float]], float]:
    """Runs otter grade (this environment's own Otter) on ``folder``; returns ({file stem: {question: points}}, s)."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    command = [sys.executable, "-m", "otter", "grade", "-n", "hw1", "-a", str(autograder_zip)]
    command += ["-o", str(out), "--containers", str(containers), "--timeout", "900", str(folder)]
    command += ["--image", image] if image else []
    subprocess.run(command, check=True)
    seconds = time.monotonic() - started
    with open(out / "final_grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    scores: dict[str, dict[str, float]] = {}
    for row in rows:
        if row["file"] == "points-per-question":
            continue
        skip = {"file", "total_points_earned", "percent_correct", "grading_status"}
        scores[pathlib.Path(row["file"]).stem] = {k: float(v) for k, v in row.items() if k not in skip}
    return scores, seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.grade.otter_grade_check", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--out", type=pathlib.Path, help="where to write the notebooks and results (default: a new temporary folder)"
    )
    parser.add_argument("--containers", type=int, default=2)
    parser.add_argument("--zip", type=pathlib.Path, default=gradescope.RELEASE_ZIP, help="the autograder zip")
    parser.add_argument("--image", help="otter grade's base image (default: Otter's, from Docker Hub)")
    args = parser.parse_args(argv)
    problems = missing()
    if problems:
        print("otter grade cannot run here; missing:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    gradescope.require_root()
    args.out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="hw1-otter-grade-"))
    folder = args.out / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    paths = notebooks(folder)
    expected: dict[str, dict[str, float]] = {}
    for name, path in paths.items():  # the route here, as Gradescope runs the zip
        expected[name] = gradescope.run_as_gradescope(path, args.out / "route" / name, args.zip).scores
    found, seconds = otter_grade(folder, args.out / "otter", args.containers, args.zip, args.image)
    wrong = {
        name: {q: (found.get(name, {}).get(q), points) for q, points in scores.items()
               if found.get(name, {}).get(q) != points}
        for name, scores in expected.items()
    }  # fmt: skip
    wrong = {name: diff for name, diff in wrong.items() if diff}
    print(f"otter grade graded {len(found)} notebooks in {seconds:.0f} s with {args.containers} containers")
    for name in NOTEBOOKS:
        total = sum(found.get(name, {}).values())
        print(f"  {name}: {total:g} (the route here: {sum(expected[name].values()):g})")
    if wrong:
        print(f"otter grade disagrees with the route: {wrong}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
