"""Grading helpers for the test suite and the benchmark, through the zip's own route (no Docker).

To grade a folder of submissions (Otter's CSV, a report, resume), use ``tools/bulk_grade.py``
(``make grade SUBMISSIONS=... OUT=...``). Here:

* ``grade_submission``: one upload through the route, parsed results;
* ``grade_folder``: every upload of a folder, a few at a time, each with its own user, folder and CPU
  (``bulk_grade``'s pool, without its CSV and resume); raises if any grading made no verdict;
* ``submission_from_solution``: a submission made by exact edits of the
  solutions notebook, the one way to build wrong or alternative submissions.
"""

import pathlib
import sys
import tempfile

import nbformat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from build_release import NOTEBOOK, ROOT, ZIP_NAME  # noqa: E402
import bulk_grade  # noqa: E402
import gradescope  # noqa: E402

RELEASE_ZIP = ROOT / "autograder" / ZIP_NAME
SOLUTIONS = ROOT / "solutions" / NOTEBOOK


GradingResult = gradescope.Result


def grade_submission(notebook, autograder_zip=RELEASE_ZIP, user="hw1student", cpus="0", extra_env=None):
    """Grades one upload through the zip's own run_autograder (the trusted route); returns its Result."""
    with tempfile.TemporaryDirectory(prefix="hw1-grade-") as out:
        return gradescope.grade(notebook, out, autograder_zip, user=user, cpus=cpus, extra_env=extra_env)


def grade_folder(folder, autograder_zip=RELEASE_ZIP, jobs=2, pattern="*.ipynb", timeout=900):
    """Grades every upload of a folder, ``jobs`` at a time, each worker with its own user, folder and CPU.

    Returns {file stem: Result}. The route keeps its folders in /tmp, as on Gradescope (the cheat and
    isolation tests attack them there). Raises RuntimeError if a grading made no verdict.
    """
    uploads = sorted(pathlib.Path(folder).glob(pattern))
    submissions = [bulk_grade.Submission(path.stem, path) for path in uploads]
    rows = bulk_grade.run_pool(submissions, autograder_zip, bulk_grade.autograder_id(autograder_zip), jobs, timeout,
                               user_base="hw1student", private_tmp=False)
    broken = [f"{key}: {row.grading_status}" for key, row in sorted(rows.items()) if row.result is None]
    if broken or len(rows) != len(submissions):
        raise RuntimeError("gradings without a verdict:\n" + "\n".join(broken))
    return {key: rows[key].result for key in sorted(rows)}


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
