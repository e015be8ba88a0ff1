"""Grading helpers for the test suite, through the zip's own route (no Docker).

To grade a folder of submissions (Otter's CSV, a report, resume), use ``python -m tools.grade``
(``make grade SUBMISSIONS=... OUT=...``); one upload: ``tools.grade.gradescope.run_as_gradescope``. Here:

* ``grade_corpus_folder``: every upload of a folder, a few at a time, each with its own user, folder and CPU
  (``make grade``'s pool, without its CSV and resume); raises if any grading made no verdict;
* ``submission_from_solution`` (from tools.grade.gradescope): a submission made by exact edits of the
  solutions notebook, the one way to build wrong or alternative submissions.
"""

import pathlib

from tools.grade import gradebook, pool
from tools.grade.gradescope import RELEASE_ZIP, submission_from_solution  # noqa: F401 (the corpora build with it)
from tools.grade.submissions import Submission


def grade_corpus_folder(folder, autograder_zip=RELEASE_ZIP, jobs=2, pattern="*.ipynb", timeout=900):
    """Grades every upload of a folder, ``jobs`` at a time, each worker with its own user, folder and CPU.

    Returns {file stem: Result}. The route keeps its folders in /tmp, as on Gradescope (the cheat and
    isolation tests attack them there). Raises RuntimeError if a grading made no verdict.
    """
    # the short ones (the quick mixes, the blank notebook) last: the workers then end together, not one alone on a
    # long notebook (the solution, alphabetically last, once left a CPU idle for 30 s)
    uploads = sorted(pathlib.Path(folder).glob(pattern), key=lambda p: ("quick" in p.stem or "blank" in p.stem, p.stem))
    submissions = [Submission(path.stem, path) for path in uploads]
    rows = pool.run_pool(
        submissions,
        autograder_zip,
        gradebook.autograder_id(autograder_zip),
        jobs,
        timeout,
        user_base="hw1student",
        private_tmp=False,
    )
    broken = [f"{key}: {row.grading_status}" for key, row in sorted(rows.items()) if row.result is None]
    if broken or len(rows) != len(submissions):
        raise RuntimeError("gradings without a verdict:\n" + "\n".join(broken))
    return {key: rows[key].result for key in sorted(rows)}
