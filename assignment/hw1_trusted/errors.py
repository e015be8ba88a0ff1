"""The trusted grader's own exceptions."""


class GraderFault(Exception):
    """The grader's own failure (its inputs, its datasets, its references, a write of root's): never a grade, and
    a rerun grades the upload again. Never raised for anything in the student's data."""
