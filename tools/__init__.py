"""The instructor's tools, one module per verb, run from the repository's root as ``python -m tools.<verb>``:

build_release (make release), gradescope (make gradescope), grade (make grade), similarity (make similarity),
pdfs (make pdfs), benchmark (make benchmark), merge_grades, calibration, lock, leak_scan. The others are
shared parts: trusted (loads hw1_trusted and its settings), master_notebook, points, data_cache.
"""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent  # the repository
ASSIGNMENT = ROOT / "assignment"  # the master notebook and the grader's sources (hw1_trusted/)
