"""Grades one upload exactly as Gradescope would run the autograder zip.

    python -m tools.grade.gradescope SUBMISSION OUT [--zip ZIP]      (make gradescope SUBMISSION=... OUT=...)

Unzips the zip into an ``/autograder`` layout under ``OUT/autograder`` (source/, submission/,
results/, submission_metadata.json, and run_autograder beside them), places the datasets
where the zip's ``setup.sh`` puts them (``/opt/hw1-data``, verified by MD5), and runs the
zip's own ``run_autograder`` as root on one CPU (``taskset -c 0``; the route's cgroup quota is what the student's
processes cannot undo). The layout is root's alone (0700) from the start. The image's network
install is not available here, so one variable, ``HW1_PYTHON``, points ``run_autograder``
at this machine's environment; ``HW1_AUTOGRADER_DIR`` says where the layout is, so that
several gradings can run at once. Leaves ``OUT/results.json``.

Needs Linux and root: the student's notebook runs as an unprivileged user.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import nbformat

from tools import ROOT, errors
from tools.build.master_notebook import NOTEBOOK
from tools.data_cache import ensure_data_cache
from tools.trusted import settings, trusted_module

RELEASE_ZIP = ROOT / "autograder" / settings.ZIP_NAME  # the committed release's zip, graded by default
SOLUTIONS = ROOT / "solutions" / NOTEBOOK  # the committed release's executed solutions (the benchmark grades them)
DATA_ROOT = pathlib.Path(settings.DATA_ROOT.default)  # where the zip's setup.sh puts the datasets
PYTHON = pathlib.Path(sys.executable)


class Result:
    """The results.json of one grading."""

    def __init__(self, raw: dict[str, Any], log: str = "") -> None:
        self.raw, self.log = raw, log
        self.tests = {t["name"]: t for t in raw["tests"] if "max_score" in t}

    @property
    def scores(self) -> dict[str, float]:
        return {name: t["score"] for name, t in self.tests.items()}

    @property
    def max_scores(self) -> dict[str, float]:
        return {name: t["max_score"] for name, t in self.tests.items()}

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def possible(self) -> float:
        return sum(self.max_scores.values())

    def output(self, question: str) -> str:
        return str(self.tests[question]["output"])

    @property
    def visible(self) -> str:
        """What students see right after submitting: the visible entries' text."""
        return "\n".join(t.get("output", "") for t in self.raw["tests"] if t.get("visibility") == "visible")

    @property
    def flags(self) -> list[str]:
        return list(self.raw.get("extra_data", {}).get("flags", []))

    def failures(self) -> str:
        return "\n".join(f"{q}: {t['output']}" for q, t in self.tests.items() if t["score"] < t["max_score"])


def submission_from_solution(edits: Iterable[tuple[str, str]], solutions: pathlib.Path = SOLUTIONS) -> Any:
    """The solutions notebook with each ``(old, new)`` edit applied, outputs cleared.

    Each ``old`` must occur exactly once in the code cells, so that an edit can
    never silently miss after the master notebook changes.
    """
    nb = nbformat.read(solutions, as_version=4)
    for old, new in edits:
        hits = [cell for cell in nb.cells if cell.cell_type == "code" and old in cell.source]
        count = sum(cell.source.count(old) for cell in hits)
        if count != 1:
            raise ValueError(f"edit target occurs {count} times in the solutions, expected once: {old!r}")
        hits[0].source = hits[0].source.replace(old, new)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def sandbox_user(name: str) -> str:
    """The system user a grading runs its student phase as. ``HW1_USER_PREFIX`` keeps two checkouts that
    grade at the same time (e.g. two builds) apart: the route kills every process of its user."""
    return str(settings.USER_PREFIX.value()) + name


def require_root() -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        raise errors.GradingSetupError(
            "grading through the route needs Linux and root: the student's notebook runs as a separate, "
            "unprivileged user (run it with sudo, or in the course's Linux container)"
        )


def place_data(root: pathlib.Path = DATA_ROOT) -> pathlib.Path:
    """The verified datasets, extracted as torchvision expects, read-only to everyone but root."""
    marker = root / ".verified"
    if marker.exists():
        return root
    cache = ensure_data_cache()
    if cache is None:
        raise errors.GradingSetupError(
            "no local copy of the datasets: put FashionMNIST and MNIST (raw/*.gz) in ../shared/data or $HW1_SHARED_DATA"
        )
    for name in ("FashionMNIST", "MNIST"):
        shutil.copytree(
            cache / name / "raw", root / name / "raw", dirs_exist_ok=True, ignore=shutil.ignore_patterns("*-ubyte")
        )
    extract_datasets(root, verify=True)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    marker.write_text("verified\n")
    return root


def layout(out: pathlib.Path, autograder_zip: str | pathlib.Path, submission: str | pathlib.Path) -> pathlib.Path:
    """OUT/autograder as Gradescope lays it out, with the upload in submission/."""
    ag = out / "autograder"
    if ag.exists():
        shutil.rmtree(ag)
    ag.mkdir(mode=0o700, parents=True)  # root's alone before anything is in it: another grading's notebook may be
    ag.chmod(0o700)  # watching this machine's folders (the route's sandbox needs none of them)
    (ag / "source").mkdir(mode=0o700)
    with zipfile.ZipFile(autograder_zip) as z:
        z.extractall(ag / "source")
    shutil.copy(ag / "source" / "run_autograder", ag / "run_autograder")
    os.chmod(ag / "run_autograder", 0o755)
    (ag / "submission").mkdir(mode=0o700)
    (ag / "results").mkdir(mode=0o700)
    (ag / "submission_metadata.json").write_text(json.dumps({"previous_submissions": []}))
    upload = pathlib.Path(submission)
    if upload.is_dir():
        shutil.copytree(upload, ag / "submission", dirs_exist_ok=True, symlinks=True)
    else:
        shutil.copy(upload, ag / "submission" / upload.name)
    return ag


def extract_datasets(root: pathlib.Path, verify: bool = False) -> None:
    """torchvision's extraction of the .gz files in root (and the grader's MD5 check of them), in a process of its
    own: the grading process never imports torch (python -m tools.data_cache)."""
    subprocess.run(
        [str(PYTHON), "-m", "tools.data_cache", str(root), *(["--verify"] if verify else [])], check=True, cwd=ROOT
    )


_running: dict[int, tuple[subprocess.Popen[str], str]] = {}  # pid -> (run_autograder's process, its sandbox user)
_running_lock = threading.Lock()


def stop(process: subprocess.Popen[str], user: str) -> None:
    """Ends one grading early: its root side (run_autograder's session) and every process of its sandbox user,
    as the route itself does when the student phase ends, and the files that user left in the shared folders."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if os.geteuid() != 0:
        return  # without root the route runs no sandbox user
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return  # the route had not created its user yet: nothing ran as it
    if uid != 0:
        sandbox = trusted_module("sandbox")  # the route's own helpers: kill every process of a user, remove its files
        sandbox.kill_all(uid)
        sandbox.remove_files_of(uid)
        sandbox.remove_stale_cgroups(f"hw1-{user}-")  # the route's cgroups for that user, had it no time to remove them


def stop_running() -> None:
    """Stops every grading this process has under way (an interrupted batch)."""
    with _running_lock:
        running = list(_running.values())
    for process, user in running:
        stop(process, user)


def run_as_gradescope(
    submission: str | pathlib.Path,
    out: str | pathlib.Path,
    autograder_zip: str | pathlib.Path = RELEASE_ZIP,
    user: str = "hw1student",
    cpus: str = "0",
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> Result:
    """Grades one upload (a file, or a folder of files) as Gradescope runs the zip: its run_autograder, which runs
    the route inside (hw1_trusted/route.py grade_upload); returns its Result.

    After ``timeout`` seconds the grading is stopped (``stop``: its root side and every process of its
    sandbox user) and ``subprocess.TimeoutExpired`` is raised; ``OUT/run_autograder.log`` holds its output.
    """
    folder = pathlib.Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    isolated = os.geteuid() == 0
    data_root = place_data() if isolated else local_data_root(folder)
    ag = layout(folder, autograder_zip, submission)
    user = sandbox_user(user)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HW1_PYTHON": str(PYTHON),
        "HW1_AUTOGRADER_DIR": str(ag),
        "HW1_SANDBOX_USER": user,
        "HW1_DATA_ROOT": str(data_root),
        **(extra_env or {}),
    }
    command = [str(ag / "run_autograder")]
    if cpus and shutil.which("taskset"):
        command = ["taskset", "-c", cpus, *command]
    # a session of its own: on a time-out (or when the caller stops it) the whole root side is killed at once
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    with _running_lock:
        _running[process.pid] = (process, user)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:  # the time limit, or the caller gave up: nothing of this grading may run on
        stop(process, user)
        stdout, stderr = process.communicate()
        (folder / "run_autograder.log").write_text(stdout + stderr)
        os.chmod(folder / "run_autograder.log", 0o600)
        raise
    finally:
        with _running_lock:
            _running.pop(process.pid, None)
    log = stdout + stderr
    (folder / "run_autograder.log").write_text(log)
    results = ag / "results" / "results.json"
    if not results.exists():
        raise RuntimeError(f"run_autograder wrote no results.json (exit {process.returncode}):\n{log[-3000:]}")
    shutil.copy(results, folder / "results.json")
    for kept in ("results.json", "run_autograder.log"):
        os.chmod(folder / kept, 0o600)
    return Result(json.loads(results.read_text()), log)


def local_data_root(out: pathlib.Path) -> pathlib.Path:
    """Without root (an instructor's build): the data cache, extracted, stands in for /opt/hw1-data."""
    cache = ensure_data_cache()
    extract_datasets(cache)
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.grade.gradescope",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("submission", type=pathlib.Path)
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--zip", type=pathlib.Path, default=RELEASE_ZIP)
    args = parser.parse_args()
    require_root()
    result = run_as_gradescope(args.submission, args.out, args.zip)
    for question, score in result.scores.items():
        print(f"{question:12s} {score:g}/{result.max_scores[question]:g}")
    print(f"total {result.total:g}/{result.possible:g}; results in {args.out / 'results.json'}")


if __name__ == "__main__":
    errors.run(main)
