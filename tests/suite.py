"""make test: the suite's layers as three pytest processes at once, so that the two CPUs are busy while one of them
would otherwise idle.

- the route's layer (every test marked ``route`` or ``release``, but the side's modules): the corpora, the cheats,
  make grade, the load tests. It prints as it runs.
- the side: the modules marked ``release`` or ``route`` that run one notebook at a time (Colab, Jupyter, the PDFs,
  the similarity report); they fill a CPU that the route's layer leaves idle while it builds and grades.
- the fast layer (``make test-fast``): the in-process tests, about a minute of one CPU.

The datasets are written once before (``python -m tools.data_cache --prepare``), so that the processes only read
them. The first process to need the release builds it and the other waits for it (``HW1_RELEASE_HANDOFF``). The load
tests, which need the machine to themselves, wait for the side and the fast layer to end
(``HW1_MACHINE_SHARED_WITH``). The side's and the fast layer's reports follow the route layer's; the exit status is
the first failing process's (pytest's own codes: 5 when a process collected no test).

    python -m tests.suite [PYTEST ARGUMENTS ...]    (passed to every process, e.g. -x)
"""

import os
import pathlib
import subprocess
import sys
import tempfile

from tools import ROOT
from tools.trusted import settings

SLOW = "route or release"
FAST = "not route and not release"
# one notebook at a time, no CPU hogs, and nothing that looks at every grading on the machine
SIDE = ("test_colab.py", "test_colab_install.py", "test_similarity.py", "test_student_checks.py", "test_written_pdf.py")


def commands(extra: list[str]) -> dict[str, list[str]]:
    """{process: pytest's command line}: together they run every test once."""
    pytest = [sys.executable, "-m", "pytest"]
    side = [f"tests/{name}" for name in SIDE]
    return {
        "route": [*pytest, "tests", "-m", SLOW, *(f"--ignore={path}" for path in side), *extra],
        "side": [*pytest, *side, "-m", SLOW, "-p", "no:cacheprovider", *extra],
        "fast": [*pytest, "tests", "-m", FAST, "-p", "no:cacheprovider", *extra],
    }


def main(extra: list[str]) -> int:
    subprocess.run([sys.executable, "-m", "tools.data_cache", "--prepare"], check=True, cwd=ROOT)
    with tempfile.TemporaryDirectory(prefix="hw1-suite-") as scratch:
        env = {**os.environ, settings.RELEASE_HANDOFF.name: str(pathlib.Path(scratch) / "release")}
        plan = commands(extra)
        logs = {name: open(pathlib.Path(scratch) / f"{name}.log", "w+") for name in ("side", "fast")}
        beside = {
            name: subprocess.Popen(plan[name], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            for name, log in logs.items()
        }
        pids = " ".join(str(process.pid) for process in beside.values())
        route = subprocess.run(plan["route"], cwd=ROOT, env={**env, settings.SHARED_WITH.name: pids})
        statuses = {"route": route.returncode}
        for name, process in beside.items():
            statuses[name] = process.wait()
            logs[name].seek(0)
            print(f"\n==== make test's {name} process, run beside the route's layer: exit {statuses[name]} ====")
            print(logs[name].read(), end="", flush=True)
            logs[name].close()
    print(f"\n==== exit statuses: {statuses} ====")
    return next((status for status in statuses.values() if status), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
