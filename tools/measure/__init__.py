"""Measurements that print numbers, never pass or fail: the grading's time and memory (``benchmark``) and the
hidden checks' calibration (``calibration``)."""
