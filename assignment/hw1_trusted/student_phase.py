"""The untrusted phase, run as the sandbox user: Otter executes the notebook and its probes.

Copied into the sandbox and run there; it sees nothing of the grader but the probes, the
public tests and the inputs. Otter's runner is used as it is; only nbclient's settings are set:
every cell gets a time limit and is interrupted when it runs over, so one infinite loop costs
only what depends on it, and the kernel is killed once the last cell has run. Which cell runs is recorded, so that a kernel that dies can be
reported. Nothing written here is trusted: of its record the grader shows only whether a cell
time-out is claimed, labelled as the record's claim; its clock readings (``phase_timings.json``) only feed the
benchmark's breakdown of the phase.
"""

import json
import os
import re
import sys
import time
import traceback

STARTED = time.time()  # before nbclient and Otter are imported: the phase's own start-up counts


def cell_kind(source):
    """Whose cell it is, for the breakdown of the phase's time: Otter's set-up, the checks (``grader.check`` cells,
    where grading mode runs the public tests and the probes, and Otter's last cell, which checks the rest), or
    the student's own."""
    source = re.sub(r"^SEED = \d+\n", "", source)  # Otter's seeding line, put before every cell
    if source.startswith("from otter import Notebook as") or source.startswith("import sys\nsys.path.append("):
        return "otter_setup"
    if "Checker.check_if_not_already_checked" in source or re.fullmatch(r'(\w+(\(\))?\.check\("[\w.]+"\)\s*)+', source):
        return "checks"
    return "student"


def main(autograder_dir, handover, cell_timeout):
    from nbclient import NotebookClient

    progress = {"cell": None, "timed_out": [], "error": None}
    clock = {
        "started": STARTED,
        "first_cell": None,
        "last_cell_end": None,
        "seconds": {"otter_setup": 0.0, "student": 0.0, "checks": 0.0},
    }

    def save():
        with open(os.path.join(handover, "progress.json"), "w") as f:
            json.dump(progress, f)

    def first_line(cell):
        lines = [l for l in cell.source.splitlines() if l.strip() and not l.startswith("SEED = ")]
        return lines[0][:120] if lines else ""

    def on_cell_start(cell, cell_index, **_):
        progress["cell"] = first_line(cell)
        progress["started"] = time.monotonic()
        clock["first_cell"] = clock["first_cell"] or time.time()
        clock["cell_started"] = time.time()
        save()

    def on_cell_executed(cell, cell_index, execute_reply=None, **_):
        clock["last_cell_end"] = now = time.time()
        clock["seconds"][cell_kind(cell.source)] += now - clock.get("cell_started", now)
        if time.monotonic() - progress.get("started", time.monotonic()) >= cell_timeout - 1:
            progress["timed_out"].append(first_line(cell))
            save()

    traits = NotebookClient.class_traits()
    traits["timeout"].default_value = cell_timeout
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
    code = main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    # every file of the phase is written and closed, and the kernel is dead: the interpreter's teardown of Otter,
    # nbclient and their imports (~0.4 s) would only delay the verdict; what is left dies with the sandbox
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
