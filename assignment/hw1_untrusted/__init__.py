"""The student's side of a grading: what runs as the unprivileged sandbox user, never as root.

``runner.py`` is copied into each grading's sandbox and run there (``python runner.py AG HANDOVER``): Otter
executes the student's notebook with its probes (``assignment/hw1_probes.py``, imported by the notebook's
hidden cells as ``hw1_probes``). Nothing it writes is trusted; the trusted package (``hw1_trusted``, root)
reads its hand-over with total readers. It imports nothing of ``hw1_trusted``.
"""
