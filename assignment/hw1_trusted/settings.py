"""Every ``HW1_*`` environment variable of the project, declared once: its default, what it does, who reads it.

Readers go through these objects (``settings.CELL_TIMEOUT.value()``), never ``os.environ`` by name, so that this
list is complete; the README's table of settings is generated from it (``settings_table``, written by
``python -m tools.build.release``). It ships in the zip: the grading route reads its limits here.

Scopes: ``grading`` is read by the route (in the zip, on Gradescope and under ``make gradescope`` / ``make grade``);
``notebook`` is set by the route (or the tools) for the student's notebook and the probes, which read it by name
(the sandbox cannot import the grader); ``tools`` is read by ``python -m tools.…``; ``tests`` by the test suite.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import policy

ZIP_NAME = "hw1-autograder.zip"  # the Gradescope autograder, as make release writes it into autograder/

SCOPES = ("grading", "notebook", "tools", "tests")
LIMITS_FILE = (
    "limits.json"  # beside this file in a zip made by python -m tools.build.limits: {"HW1_CELL_TIMEOUT": "1200"}
)


def _limits() -> dict[str, str]:
    """The zip's own limits (otter grade passes no environment variable to its containers), or {}."""
    import json
    import pathlib

    path = pathlib.Path(__file__).with_name(LIMITS_FILE)
    try:
        found = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in found.items() if k in LIMIT_NAMES} if isinstance(found, dict) else {}


LIMIT_NAMES = (
    "HW1_CELL_TIMEOUT", "HW1_PHASE_TIMEOUT", "HW1_PHASE_WALL_CAP", "HW1_STUDENT_MEMORY_MB", "HW1_STUDENT_DISK_MB",
    "HW1_TRUSTED_MEMORY_MB", "HW1_TRUSTED_TIMEOUT",
)  # fmt: skip
LIMITS = _limits()


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None  # None: unset means "off" or "not given"
    scope: str
    description: str
    parse: Callable[[str], Any] = str  # int for numbers, _disables for switches; value() returns what it returns

    def raw(self) -> str | None:
        """The environment's text, or None when it is unset."""
        return os.environ.get(self.name)

    def value(self) -> Any:
        """The parsed value from the environment, else from the zip's limits.json (``python -m tools.build.limits``), else
        the parsed default (None when there is none)."""
        text = os.environ.get(self.name, LIMITS.get(self.name, self.default))
        return None if text is None else self.parse(text)

    def is_set(self) -> bool:
        """Set to a non-empty value."""
        return bool(os.environ.get(self.name))


def _disables(text: str) -> bool:
    """HW1_SANDBOX=none / HW1_CGROUP=none (also off, 0, no): True, that isolation layer is disabled."""
    return text.lower() in ("none", "off", "0", "no")


# --- grading: the route's limits and switches ---------------------------------------------------------------
CELL_TIMEOUT = Setting(
    "HW1_CELL_TIMEOUT",
    str(policy.CELL_TIMEOUT),
    "grading",
    "CPU seconds per cell and per probe while grading (policy.py's value; tests lower or raise it)",
    int,
)
PHASE_TIMEOUT = Setting(
    "HW1_PHASE_TIMEOUT",
    str(policy.PHASE_TIMEOUT),
    "grading",
    "CPU seconds for the student's whole notebook (policy.py's value)",
    int,
)
PHASE_WALL_CAP = Setting(
    "HW1_PHASE_WALL_CAP",
    str(policy.PHASE_WALL_CAP),
    "grading",
    "wall-clock seconds for the student's whole notebook, the last resort (policy.py's value); stopped there while "
    "the machine starved it of CPU, the upload is not graded (a grader fault) and a rerun grades it",
    int,
)
GRADINGS_AT_ONCE = Setting(
    "HW1_GRADINGS_AT_ONCE",
    None,
    "grading",
    "how many gradings share this machine's CPUs (make grade sets it); unset and without a CPU quota: unknown, "
    "so each grading gets one CPU's worth of threads",
    int,
)
STUDENT_MEMORY_MB = Setting(
    "HW1_STUDENT_MEMORY_MB",
    "3072",
    "grading",
    "memory (MB) of the student phase: the notebook, its kernel, its /tmp and /dev/shm",
    int,
)
STUDENT_DISK_MB = Setting(
    "HW1_STUDENT_DISK_MB",
    str(policy.STUDENT_DISK_MB),
    "grading",
    "disk (MB) of the student phase: its folder, /tmp, /var/tmp and /dev/shm on one tmpfs (policy.py's value)",
    int,
)
TRUSTED_MEMORY_MB = Setting(
    "HW1_TRUSTED_MEMORY_MB",
    "3072",
    "grading",
    "memory (MB) of each trusted step (the probes' inputs, the verdict)",
    int,
)
TRUSTED_TIMEOUT = Setting(
    "HW1_TRUSTED_TIMEOUT", "120", "grading", "seconds for each trusted step (the probes' inputs, the verdict)", int
)
SANDBOX = Setting(
    "HW1_SANDBOX",
    None,
    "grading",
    "`none`: no namespaces for the student phase (forces the fallback, for tests); the cgroups stay",
    _disables,
)
CGROUP = Setting(
    "HW1_CGROUP",
    None,
    "grading",
    "`none`: no cgroup for the student phase (forces that fallback, for tests)",
    _disables,
)
SANDBOX_USER = Setting(
    "HW1_SANDBOX_USER",
    "hw1student",
    "grading",
    "the unprivileged user the student's notebook runs as (make grade gives each worker its own)",
)
DATA_ROOT = Setting(
    "HW1_DATA_ROOT",
    "/opt/hw1-data",
    "grading",
    "the verified datasets, where setup.sh puts them (read-only to the student)",
)
THREADS = Setting(
    "HW1_THREADS", "1", "grading", "torch threads of the trusted steps (the route sets it from the CPU quota)", int
)
KEEP_WORK = Setting("HW1_KEEP_WORK", None, "grading", "any value: keep the route's root-only work folder (debugging)")
AUTOGRADER_DIR = Setting(
    "HW1_AUTOGRADER_DIR",
    "/autograder",
    "grading",
    "the Gradescope layout run_autograder grades in (make gradescope lays one out elsewhere)",
)
PYTHON = Setting(
    "HW1_PYTHON",
    "/opt/hw1-python/envs/otter-env/bin/python",
    "grading",
    "the interpreter run_autograder uses (read by the shell script; make gradescope points it at this "
    "machine's environment)",
)

# --- notebook: set for the student's notebook and the probes ------------------------------------------------
HANDOVER = Setting("HW1_HANDOVER", None, "notebook", "the folder where the probes hand back the notebook's answers")
PROBE_INPUTS = Setting("HW1_PROBE_INPUTS", None, "notebook", "the folder of the probes' inputs, drawn by the grader")
DATA_DIR = Setting(
    "HW1_DATA_DIR",
    "data",
    "notebook",
    "where the notebook finds the datasets (the route: HW1_DATA_ROOT; the tools: the data cache)",
)

# --- tools --------------------------------------------------------------------------------------------------
USER_PREFIX = Setting(
    "HW1_USER_PREFIX",
    "",
    "tools",
    "prefix of the sandbox users' names, so that two checkouts grading at once never share a user",
)
SHARED_DATA = Setting(
    "HW1_SHARED_DATA",
    None,
    "tools",
    "the raw datasets (FashionMNIST/, MNIST/ with raw/*.gz) to copy into .cache/data; default ../shared/data",
)

# --- tests --------------------------------------------------------------------------------------------------
REUSE_RELEASE = Setting(
    "HW1_REUSE_RELEASE",
    None,
    "tests",
    "a folder holding student/ solutions/ autograder/ built from the same sources: skips the build",
)
CORPUS_ONLY = Setting("HW1_CORPUS_ONLY", None, "tests", "comma-separated corpus entries to grade (the others skip)")
CHEATS_ONLY = Setting("HW1_CHEATS_ONLY", None, "tests", "comma-separated cheats to grade (the others skip)")
REQUIRE_TEX = Setting(
    "HW1_REQUIRE_TEX", None, "tests", "`1`: the PDF tests fail, not skip, where pandoc or xelatex is missing"
)
REQUIRE_SANDBOX = Setting(
    "HW1_REQUIRE_SANDBOX",
    None,
    "tests",
    "any value: the isolation tests fail, not skip, where bubblewrap or cgroups are missing",
)
TEST_BULK_TIMEOUT = Setting(
    "HW1_TEST_BULK_TIMEOUT",
    "70",
    "tests",
    "seconds per submission in the make grade tests (the infinite loop's: the solution grades in 28 s on one CPU)",
    int,
)
SHARED_WITH = Setting(
    "HW1_MACHINE_SHARED_WITH",
    None,
    "tests",
    "process ids, space-separated (make test sets those of the processes it runs beside the load tests' one): the "
    "load tests wait until they have ended",
    lambda text: [int(pid) for pid in text.split()],
)
RELEASE_HANDOFF = Setting(
    "HW1_RELEASE_HANDOFF",
    None,
    "tests",
    "a file that pytest processes started at once share (make test sets it): the first builds the release and writes "
    "its folder there, the others wait for it and test that release",
)

ALL = tuple(value for value in list(globals().values()) if isinstance(value, Setting))


README_SCOPES = ("grading", "tools")  # what an instructor may set: the README's table
DOCS_SCOPES = ("notebook", "tests")  # the route's internal hand-offs and the suite's switches: docs/testing.md


def settings_table(scopes: tuple[str, ...] = README_SCOPES) -> str:
    """The table of the settings of these scopes (Markdown), in scope order."""
    lines = ["| variable | default | scope | what it does |", "| --- | --- | --- | --- |"]
    for scope in scopes:
        for setting in ALL:
            if setting.scope == scope:
                default = (
                    "(unset)" if setting.default is None else f"`{setting.default}`" if setting.default else '`""`'
                )
                lines.append(f"| `{setting.name}` | {default} | {scope} | {setting.description} |")
    return "\n".join(lines) + "\n"
