"""What the tests share and nothing else: the trusted package's copy with points (``trusted_copy``), the checks'
in-process harness (``probing``), notebooks run in real kernels (``self_check_runs``) and grading through the
route (``grading``). The submissions themselves are built in ``tests.corpus``."""
