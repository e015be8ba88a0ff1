"""Grading submissions with the real autograder zip, without Docker.

    python tools/grading.py ZIP FOLDER [--jobs N]

grades every ``*.ipynb`` in FOLDER with ``otter run`` and prints one line per
submission with its score per question. The test suite and the benchmark use
the same functions:

* ``grade_submission``: one notebook through ``otter run``, parsed results;
* ``grade_folder``: every notebook of a folder, a few at a time;
* ``submission_from_solution``: a submission made by exact edits of the
  solutions notebook, the one way to build wrong or alternative submissions.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import nbformat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from build_release import NOTEBOOK, ROOT, ZIP_NAME  # noqa: E402
from data_cache import data_environment  # noqa: E402

RELEASE_ZIP = ROOT / "autograder" / ZIP_NAME
SOLUTIONS = ROOT / "solutions" / NOTEBOOK


class GradingResult:
    """What ``otter run`` reported for one submission."""

    def __init__(self, results_json, log):
        self.raw = results_json
        self.log = log
        self.tests = {t["name"]: t for t in results_json["tests"] if "max_score" in t}

    @property
    def scores(self):
        """{question: points earned}"""
        return {name: t["score"] for name, t in self.tests.items()}

    @property
    def max_scores(self):
        return {name: t["max_score"] for name, t in self.tests.items()}

    @property
    def total(self):
        return sum(self.scores.values())

    def output(self, question):
        return self.tests[question]["output"]


def grade_submission(notebook, autograder_zip=RELEASE_ZIP, threads=1):
    """Grades one notebook with ``otter run`` on the real zip; returns a GradingResult.

    ``threads`` caps the BLAS/torch threads of the grading kernel (Gradescope gives half a CPU).
    """
    env = data_environment(threads)
    with tempfile.TemporaryDirectory(prefix="hw1-grade-") as out:
        run = subprocess.run(
            [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(autograder_zip), "-o", out, str(notebook)],
            env=env, capture_output=True, text=True,
        )
        results = pathlib.Path(out) / "results.json"
        if not results.exists():
            raise RuntimeError(f"otter run wrote no results.json (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
        return GradingResult(json.loads(results.read_text()), run.stdout + run.stderr)


def grade_folder(folder, autograder_zip=RELEASE_ZIP, jobs=2):
    """Grades every ``*.ipynb`` in ``folder``; returns {notebook stem: GradingResult}."""
    notebooks = sorted(pathlib.Path(folder).glob("*.ipynb"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {nb.stem: pool.submit(grade_submission, nb, autograder_zip) for nb in notebooks}
        return {stem: future.result() for stem, future in futures.items()}


def submission_from_solution(edits, solutions=SOLUTIONS):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zip", type=pathlib.Path)
    parser.add_argument("folder", type=pathlib.Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    for name, result in grade_folder(args.folder, args.zip, args.jobs).items():
        per_question = ", ".join(f"{q} {s:g}/{result.max_scores[q]:g}" for q, s in result.scores.items())
        print(f"{name}: {result.total:g}/{sum(result.max_scores.values()):g}  ({per_question})")


if __name__ == "__main__":
    main()
