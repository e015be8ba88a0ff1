"""Grading submissions with the real autograder zip, without Docker, through its own route.

    python tools/grading.py ZIP FOLDER [--jobs N]

grades every ``*.ipynb`` in FOLDER as Gradescope runs the zip (``tools/gradescope.py``:
its ``run_autograder``, the student phase as an unprivileged user, the verdict in a
separate root process) and prints one line per submission with its score per question.
Needs Linux and root. The test suite and the benchmark use the same functions:

* ``grade_submission``: one upload through the route, parsed results;
* ``grade_folder``: every upload of a folder, a few at a time, each with its own user;
* ``submission_from_solution``: a submission made by exact edits of the
  solutions notebook, the one way to build wrong or alternative submissions.
"""

import argparse
import concurrent.futures
import os
import pathlib
import queue
import sys
import tempfile

import nbformat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from build_release import NOTEBOOK, ROOT, ZIP_NAME  # noqa: E402
import gradescope  # noqa: E402

RELEASE_ZIP = ROOT / "autograder" / ZIP_NAME
SOLUTIONS = ROOT / "solutions" / NOTEBOOK


GradingResult = gradescope.Result


def grade_submission(notebook, autograder_zip=RELEASE_ZIP, user="hw1student", cpus="0", extra_env=None):
    """Grades one upload through the zip's own run_autograder (the trusted route); returns its Result."""
    with tempfile.TemporaryDirectory(prefix="hw1-grade-") as out:
        return gradescope.grade(notebook, out, autograder_zip, user=user, cpus=cpus, extra_env=extra_env)


def grade_folder(folder, autograder_zip=RELEASE_ZIP, jobs=2, pattern="*.ipynb"):
    """Grades every upload of a folder, ``jobs`` at a time, each worker with its own user, folder and CPU."""
    uploads = sorted(pathlib.Path(folder).glob(pattern))
    cpus = len(os.sched_getaffinity(0))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        workers = queue.Queue()
        for k in range(jobs):
            workers.put(k)

        def run(path):
            k = workers.get()
            try:
                return grade_submission(path, autograder_zip, user=f"hw1student{k}", cpus=str(k % cpus))
            finally:
                workers.put(k)

        futures = {path.stem: pool.submit(run, path) for path in uploads}
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
