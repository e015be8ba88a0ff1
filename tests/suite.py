"""make test and make test-fast: the suite's layers as pytest processes run at once, so that both CPUs stay busy.

``make test`` runs four:

- the route's layer (every test marked ``route`` or ``release``, but the side's modules): the corpora, the cheats,
  make grade, the load tests. It prints as it runs.
- the side: the marked tests of the modules that run one notebook at a time (Colab, Jupyter, the PDFs, the
  similarity report); they fill a CPU that the route's layer leaves idle while it builds and grades.
- the fast layer (every test marked neither), as two processes: the in-process checks' two modules, about half of
  its CPU time, and the rest.

``make test-fast`` runs the fast layer's two alone. The datasets are written once before (``python -m tools.data_cache
--prepare``), so that the processes only read them. The first process to need the release builds it and the other
waits for it (``HW1_RELEASE_HANDOFF``). The load tests, which need the machine to themselves, wait for the others to
end (``HW1_MACHINE_SHARED_WITH``). The other processes' reports follow the first's; the exit status is the first
failing process's (pytest's own codes: 5 when a process collected no test).

    python -m tests.suite [--fast] [PYTEST ARGUMENTS ...]    (the arguments go to every process, e.g. -x)
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
CHECKS = ("test_checks_each.py", "test_checks_unit.py")  # about half of the fast layer's CPU time
FAST_PROCESSES = ("fast", "checks")


def commands(extra: list[str]) -> dict[str, list[str]]:
    """{process: pytest's command line}, the first printing as it runs: together they run every test once."""
    pytest = [sys.executable, "-m", "pytest"]
    quiet = ["-p", "no:cacheprovider"]  # one process writes pytest's cache: they would overwrite each other's
    side, checks = ([f"tests/{name}" for name in names] for names in (SIDE, CHECKS))
    return {
        "route": [*pytest, "tests", "-m", SLOW, *(f"--ignore={path}" for path in side), *extra],
        "side": [*pytest, *side, "-m", SLOW, *quiet, *extra],
        "fast": [*pytest, "tests", "-m", FAST, *(f"--ignore={path}" for path in checks), *quiet, *extra],
        "checks": [*pytest, *checks, "-m", FAST, *quiet, *extra],
    }


def run_at_once(plan: dict[str, list[str]], env: dict[str, str]) -> dict[str, int]:
    """Starts every process of ``plan`` at once; the first prints as it runs, told the others' process ids
    (``HW1_MACHINE_SHARED_WITH``); the others' output follows. Returns {process: exit status}."""
    first, *others = plan
    with tempfile.TemporaryDirectory(prefix="hw1-suite-logs-") as folder:
        logs = {name: open(pathlib.Path(folder) / f"{name}.log", "w+") for name in others}
        beside = {
            name: subprocess.Popen(plan[name], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            for name, log in logs.items()
        }
        pids = " ".join(str(process.pid) for process in beside.values())
        statuses = {
            first: subprocess.run(plan[first], cwd=ROOT, env={**env, settings.SHARED_WITH.name: pids}).returncode
        }
        for name, process in beside.items():
            statuses[name] = process.wait()
            logs[name].seek(0)
            print(f"\n==== the {name} process, run beside the {first} process: exit {statuses[name]} ====")
            print(logs[name].read(), end="", flush=True)
            logs[name].close()
    print(f"\n==== exit statuses: {statuses} ====")
    return statuses


def main(argv: list[str]) -> int:
    fast = argv[:1] == ["--fast"]
    plan = commands(argv[1:] if fast else argv)
    if fast:
        plan = {name: plan[name] for name in FAST_PROCESSES}
    subprocess.run([sys.executable, "-m", "tools.data_cache", "--prepare"], check=True, cwd=ROOT)
    with tempfile.TemporaryDirectory(prefix="hw1-suite-") as scratch:
        env = {**os.environ, settings.RELEASE_HANDOFF.name: str(pathlib.Path(scratch) / "release")}
        statuses = run_at_once(plan, env)
    return next((status for status in statuses.values() if status), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
