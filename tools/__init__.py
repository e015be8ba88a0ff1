"""The instructor's tools, grouped by verb, each run from the repository's root as ``python -m tools.<verb>.<name>``:

* ``build``: the release (``build.release``, make release), the master notebook's declarations, points, the lock,
  the leak scan, the written part's PDFs (make pdfs) and a zip with other limits;
* ``grade``: a folder of uploads (``python -m tools.grade``, make grade), one upload as Gradescope runs it
  (``grade.gradescope``, make gradescope) and ``otter grade`` end to end (``grade.otter_grade_check``);
* ``report``: the similarity report (make similarity), the merged gradebook, text made safe to show;
* ``measure``: the benchmark (make benchmark) and the calibration of the hidden checks.

Shared by all: ``trusted`` (loads hw1_trusted and its settings, and the probes), ``errors`` (the exceptions the
library raises; only each ``__main__`` turns them into exit codes) and ``data_cache``.
"""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent  # the repository
ASSIGNMENT = ROOT / "assignment"  # the master notebook and the grader's sources (hw1_trusted/)
