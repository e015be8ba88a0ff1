"""The untrusted phase, run as the sandbox user: Otter executes the notebook and its probes.

Copied into the sandbox and run there; it sees nothing of the grader but the probes, the
public tests and the inputs. Otter's runner is used as it is; only nbclient's settings are set:
every cell gets a time limit and is interrupted when it runs over, so one infinite loop costs
only what depends on it, and the kernel is killed once the last cell has run. Which cell runs is recorded, so that a kernel that dies can be
reported. Nothing written here is trusted: of its record the grader shows only whether a cell
time-out is claimed, labelled as the record's claim; its clock readings (``phase_timings.json``) only feed the
benchmark's breakdown of the phase.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

STARTED = time.time()  # before nbclient and Otter are imported: the phase's own start-up counts


def cell_kind(source: str) -> str:
    """Whose cell it is, for the breakdown of the phase's time: Otter's set-up, the checks (``grader.check`` cells,
    where grading mode runs the public tests and the probes, and Otter's last cell, which checks the rest), or
    the student's own."""
    source = re.sub(r"^SEED = \d+\n", "", source)  # Otter's seeding line, put before every cell
    if source.startswith("from otter import Notebook as") or source.startswith("import sys\nsys.path.append("):
        return "otter_setup"
    if "Checker.check_if_not_already_checked" in source or re.fullmatch(r'(\w+(\(\))?\.check\("[\w.]+"\)\s*)+', source):
        return "checks"
    return "student"


TICKS = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, float]]:
    """{pid: (parent pid, CPU seconds of it and its reaped children)} of this user's other processes: the kernel
    and what it started (in the sandbox's own /proc, only the sandbox's processes)."""
    found: dict[int, tuple[int, float]] = {}
    me, uid = os.getpid(), os.getuid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry)] = (int(fields[1]), sum(int(v) for v in fields[11:15]) / TICKS)
    return found


class CellCpuLimit:
    """Each cell's limit in CPU seconds of the kernel and what it started (what an infinite loop burns), not on the
    wall clock: a cell that waits for a busy machine's CPU is not stopped for it. A watcher thread interrupts the
    kernel (SIGINT, as Jupyter does) once the cell has used ``limit`` CPU seconds, and again every few seconds
    while it goes on."""

    def __init__(self, limit: float, on_stop: Callable[[Any], None]) -> None:
        self.limit, self.on_stop, self.spent_before, self.fired = limit, on_stop, 0.0, False
        self.cell: Any = None  # the nbformat cell running, or None between cells
        self.lock = threading.Lock()
        threading.Thread(target=self._watch, daemon=True).start()

    @staticmethod
    def spent() -> float:
        return sum(cpu for _, cpu in processes().values())

    def start(self, cell: Any) -> None:
        spent = self.spent()
        with self.lock:
            self.cell, self.spent_before, self.fired = cell, spent, False

    def stop(self) -> None:
        with self.lock:
            self.cell = None

    def _watch(self) -> None:
        while True:
            time.sleep(0.5)
            with self.lock:
                cell, before = self.cell, self.spent_before
            if cell is None:
                continue
            running = processes()
            if sum(cpu for _, cpu in running.values()) - before < self.limit:
                continue
            for pid, (parent, _) in running.items():
                if parent == os.getpid():  # the kernel
                    try:
                        os.kill(pid, signal.SIGINT)
                    except OSError:
                        pass
            with self.lock:
                if self.cell is cell and not self.fired:
                    self.fired = True
                    self.on_stop(cell)
            time.sleep(5)  # a kernel that ignores the interrupt is interrupted again, until the phase's limits


def main(autograder_dir: str, handover: str, cell_timeout: float, wall_cap: float) -> int:
    from nbclient import NotebookClient

    progress: dict[str, Any] = {"cell": None, "timed_out": [], "error": None}
    clock: dict[str, Any] = {
        "started": STARTED,
        "first_cell": None,
        "last_cell_end": None,
        "seconds": {"otter_setup": 0.0, "student": 0.0, "checks": 0.0},
    }

    def save() -> None:
        with open(os.path.join(handover, "progress.json"), "w") as f:
            json.dump(progress, f)

    def first_line(cell: Any) -> str:
        lines = [l for l in cell.source.splitlines() if l.strip() and not l.startswith("SEED = ")]
        return lines[0][:120] if lines else ""

    def timed_out(cell: Any) -> None:
        progress["timed_out"].append(first_line(cell))
        save()

    limit = CellCpuLimit(cell_timeout, timed_out)

    def on_cell_start(cell: Any, cell_index: int, **_: Any) -> None:
        progress["cell"] = first_line(cell)
        clock["first_cell"] = clock["first_cell"] or time.time()
        clock["cell_started"] = time.time()
        save()
        limit.start(cell)

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: Any = None, **_: Any) -> None:
        limit.stop()
        clock["last_cell_end"] = now = time.time()
        clock["seconds"][cell_kind(cell.source)] += now - clock.get("cell_started", now)

    traits = NotebookClient.class_traits()
    # the wall clock only as the last resort (the route's cap for the whole notebook): the limit is in CPU seconds
    traits["timeout"].default_value = wall_cap
    traits["interrupt_on_timeout"].default_value = True
    # the kernel is killed once the last cell (Otter's, which writes its results) has run: everything it hands
    # over is in closed files by then, and a graceful shutdown of a kernel holding torch takes 2.5 s (benchmark)
    traits["shutdown_kernel"].default_value = "immediate"
    traits["on_cell_start"].default_value = on_cell_start
    traits["on_cell_executed"].default_value = on_cell_executed

    from otter.run.run_autograder import main as run_otter

    clock["imported"] = time.time()

    try:
        run_otter(autograder_dir)
    except BaseException as error:  # a dead kernel ends Otter's run; what was handed over stays
        progress["error"] = f"{type(error).__name__}: {error}"[:300]
        save()
        traceback.print_exc()
        return 1
    progress["cell"] = None
    save()
    clock["ended"] = time.time()
    clock.pop("cell_started", None)
    with open(os.path.join(handover, "phase_timings.json"), "w") as f:
        json.dump(clock, f)
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    # every file of the phase is written and closed, and the kernel is dead: the interpreter's teardown of Otter,
    # nbclient and their imports (~0.4 s) would only delay the verdict; what is left dies with the sandbox
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
