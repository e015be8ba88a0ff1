"""The machine the suite runs on: ``make test`` runs pytest processes at once (tests/suite.py), and the load tests,
which need the machine to themselves, wait for the others to end (``HW1_MACHINE_SHARED_WITH``)."""

import time


def running(pid: int) -> bool:
    """The process is alive: it exists and is no zombie (an ended child that its parent has not yet waited for, as
    the suite's other processes are until it waits for them after the route's layer)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_until_ended(pid: int, timeout: float) -> bool:
    """Waits for the process to end; False if it still runs after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True
