"""Grades one submission in two phases; what Gradescope's ``run_autograder`` (and otter grade's) runs, as root.

1. The upload becomes one notebook, or a result that says what to upload instead.
2. A fresh trusted process copies this zip's inputs from root's cache (drawn from the secret seed once per zip,
   with the references computed from them alone), or draws them, then waits (it reads nothing of the student's).
3. Untrusted phase: Otter runs the notebook and the probes as an unprivileged user, in a
   folder of its own, with a time limit per cell and for the whole phase. It hands back
   plain data only. Where the platform allows, it runs in namespaces of its own (bubblewrap:
   it sees only the environment, the datasets and its folder; private /tmp and /dev/shm; a
   loopback of its own) and in a cgroup (CPU quota, memory, processes); where it does not,
   the log says that the grading relies on the platform's one container per submission.
4. Every process of that user is killed. The answers are copied out of its reach.
5. Trusted phase: that same root ``python -I`` process, which has read nothing of the student's so far, makes every verdict and writes
   ``results.json`` (Gradescope) and ``results.pkl`` (otter grade), within a time and a memory limit.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from typing import Any

from . import handover, policy, record, sandbox, settings, uploads
from .errors import GraderFault

HERE = pathlib.Path(__file__).resolve().parent
RUNNER = HERE.parent / "hw1_untrusted" / "runner.py"  # the student side's runner, copied into each sandbox
CELL_TIMEOUT = settings.CELL_TIMEOUT.value()  # CPU seconds per cell and per probe
PHASE_TIMEOUT = settings.PHASE_TIMEOUT.value()  # CPU seconds of the student's whole notebook
PHASE_WALL_CAP = settings.PHASE_WALL_CAP.value()  # its wall-clock last resort: the grading ends within 9 minutes
SANDBOX_USER = settings.SANDBOX_USER.value()
MB = 2**20
STUDENT_MEMORY = settings.STUDENT_MEMORY_MB.value() * MB  # the notebook, its kernel, its /tmp and /dev/shm
STUDENT_PROCESSES = 512
STUDENT_DISK = settings.STUDENT_DISK_MB.value() * MB  # its folder, /tmp, /var/tmp and /dev/shm: one tmpfs
OUTPUT_KEPT = policy.OUTPUT_KEPT_KB * 2**10  # the end of the student phase's output that reaches the log
TRUSTED_MEMORY = settings.TRUSTED_MEMORY_MB.value() * MB  # the inputs and the verdict (about 0.9 GB each)
TRUSTED_TIMEOUT = (
    settings.TRUSTED_TIMEOUT.value()
)  # seconds for the inputs, and for the verdict (7 and 14 s at half a CPU)


def cpu_share() -> tuple[float, int, str]:
    """(CPUs, threads, why): the CPU share this grading really has, and the threads that fit in it.

    Its cgroup's CPU quota (Gradescope's half CPU) where there is one; else the CPUs it may run on (its affinity:
    one under make grade) divided by the gradings that share them (HW1_GRADINGS_AT_ONCE); else, when that is
    unknown (otter grade's containers share the machine's CPUs unseen), one CPU. Never more threads than CPUs:
    with more, a busy machine made 200 steps of Problem 4's network 4 times slower."""
    affinity = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_limit()
    if quota is not None:
        cpus, why = float(min(quota, affinity)), f"a CPU quota of {quota:g}"
    elif affinity == 1:
        cpus, why = 1, "one CPU of its own"
    elif settings.GRADINGS_AT_ONCE.is_set():
        at_once = max(1, settings.GRADINGS_AT_ONCE.value())
        cpus, why = max(1, affinity // at_once), f"{affinity} CPUs shared by {at_once} gradings"
    else:
        cpus, why = 1, f"{affinity} CPUs shared by an unknown number of gradings"
    return cpus, max(1, min(affinity, int(cpus))), why


def cgroup_cpu_limit() -> float | None:
    """The CPU quota of this process's cgroup in CPUs (0.5 for half a CPU), or None when unlimited."""
    try:
        lines = pathlib.Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        try:
            if controllers == "":  # v2: quota and period in cpu.max
                quota, period = pathlib.Path(f"/sys/fs/cgroup{path}/cpu.max").read_text().split()
            elif "cpu" in controllers.split(","):  # v1: cfs quota (-1: none) and period
                base = pathlib.Path("/sys/fs/cgroup") / controllers / path.lstrip("/")
                if not base.exists():
                    base = pathlib.Path("/sys/fs/cgroup/cpu") / path.lstrip("/")
                quota, period = (
                    (base / "cpu.cfs_quota_us").read_text().strip(),
                    (base / "cpu.cfs_period_us").read_text().strip(),
                )
            else:
                continue
            if quota not in ("max", "-1"):
                return int(quota) / int(period)
        except (OSError, ValueError):
            continue
    return None


def thread_caps(threads: int) -> dict[str, str]:
    return {
        name: str(threads)
        for name in (
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "NUMEXPR_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS",
            settings.THREADS.name,
        )
    }


def trusted_env() -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8", **thread_caps(cpu_share()[1])}
    for name in (settings.DATA_ROOT.name,):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def trusted(*args: object) -> subprocess.CompletedProcess[bytes]:
    """Runs a trusted step in a fresh isolated interpreter, as root."""
    entry = HERE / "__main__.py"
    return run_limited([sys.executable, "-I", str(entry), *map(str, args)], trusted_env(), f"trusted-{args[0]}")


class TrustedProcess:
    """The inputs and the verdict in ONE fresh ``python -I`` process, as root, so that the checks are imported
    once and, when the inputs are drawn here (no cached ones), the verified datasets too. With this zip's cache
    it never imports torch: the references that need it come precomputed (checks.EXPECTED).

    It draws the inputs and says so, then waits, blocked on its stdin, while the student phase runs. It reads
    nothing of the student's until the route sends it the verdict step, after every process of the student's
    user has been killed and the answers copied out of its reach. It is root's, in a session and a memory
    cgroup of its own, outside the student's namespaces; each step has the trusted time limit; its output
    goes to the log as a trusted step's did. ``ok`` is False when a step failed or ran over.
    """

    def __init__(self, work: pathlib.Path, autograder_id: str) -> None:
        self.name = "trusted-serve"
        self.group, _ = (
            sandbox.Cgroup.create(f"hw1-{SANDBOX_USER}-{os.getpid()}-{self.name}", memory=TRUSTED_MEMORY)
            if os.geteuid() == 0
            else (None, "")
        )
        group = self.group

        def limit() -> None:
            if group is not None:
                group.join()
            else:
                resource.setrlimit(resource.RLIMIT_AS, (4 * TRUSTED_MEMORY + 4 * 2**30,) * 2)

        status_read, status_write = os.pipe()  # its answers ("inputs ready", "verdict done"): one line each
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(HERE / "__main__.py"), "serve", str(work), str(status_write), autograder_id],
            env=trusted_env(),
            stdin=subprocess.PIPE,
            text=True,
            pass_fds=(status_write,),
            preexec_fn=limit,
            start_new_session=True,
        )
        os.close(status_write)
        self.status = os.fdopen(status_read, "r")

    def _wait_for(self, answer: str) -> bool:
        ready, _, _ = select.select([self.status], [], [], TRUSTED_TIMEOUT)
        if not ready:
            print(f"hw1 limits: the {self.name} step ran over its {TRUSTED_TIMEOUT} s and was stopped", flush=True)
            self.close()
            return False
        return self.status.readline().strip() == answer

    def inputs_ready(self) -> bool:
        return self._wait_for("inputs ready")

    def verdict(self, results_dir: pathlib.Path, autograder_id: str) -> bool:
        stdin = self.process.stdin
        if stdin is None:
            return False
        try:
            stdin.write(json.dumps(["verdict", str(results_dir), autograder_id]) + "\n")
            stdin.close()
        except (BrokenPipeError, ValueError):
            return False
        if not self._wait_for("verdict done"):
            return False
        try:
            return self.process.wait(timeout=TRUSTED_TIMEOUT) == 0
        except subprocess.TimeoutExpired:
            return False

    def close(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.status.close()
        if self.group is not None:
            if self.group.stats().get("oom_kills"):
                print(f"hw1 limits: the {self.name} step ran out of its {TRUSTED_MEMORY // MB} MB", flush=True)
            self.group.remove()
            self.group = None


def run_limited(
    argv: list[str], env: Mapping[str, str], name: str, timeout: float | None = None, memory: int | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Runs a trusted step with a time limit and a memory limit (a cgroup; without one, RLIMIT_AS, looser:
    it counts address space, and torch alone reserves 3.5 GB of it). Returns a CompletedProcess whose
    returncode is None when the step ran out of time."""
    seconds, limit_bytes = timeout or TRUSTED_TIMEOUT, memory or TRUSTED_MEMORY
    group, _ = (
        sandbox.Cgroup.create(f"hw1-{SANDBOX_USER}-{os.getpid()}-{name}", memory=limit_bytes)
        if os.geteuid() == 0
        else (None, "")
    )

    def limit() -> None:
        if group is not None:
            group.join()
        else:
            resource.setrlimit(resource.RLIMIT_AS, (4 * limit_bytes + 4 * 2**30,) * 2)

    process = subprocess.Popen(argv, env=env, preexec_fn=limit, start_new_session=True)
    code: int | None
    try:
        code = process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        code = None
        print(f"hw1 limits: the {name} step ran over its {seconds} s and was stopped", flush=True)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    finally:
        if group is not None:
            used = group.stats()
            if used.get("oom_kills"):
                print(f"hw1 limits: the {name} step ran out of its {limit_bytes // MB} MB", flush=True)
            group.remove()
    return subprocess.CompletedProcess(argv, code)  # type: ignore[arg-type]  # None: it ran out of time


def lock_down(ag: pathlib.Path) -> None:
    """The student's user may read or write nothing of the grader's."""
    for path, mode in (
        (ag / "source", 0o700),
        (ag / "results", 0o700),
        (ag / "submission", 0o700),
        (ag / "submission_metadata.json", 0o600),
    ):
        if path.exists():
            os.chmod(path, mode)


# matplotlib builds a font list on its first import in a new home (about 1 s): plain otter run, in the instructor's
# home, finds one; the sandbox's home is new at every grading. Built once per image (setup.sh; here, the first
# grading), root's and read-only, and copied into each sandbox's home; the student's kernel is the only reader.
FONT_CACHE = pathlib.Path("/var/cache/hw1-matplotlib")


def font_cache() -> pathlib.Path | None:
    """The image's matplotlib font list (its folder), built if missing; None where it cannot be built."""
    if not any(FONT_CACHE.glob("fontlist-*.json")):
        try:
            FONT_CACHE.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, "-I", "-c", "import matplotlib.font_manager"],
                timeout=120,
                check=True,
                env={
                    "PATH": "/usr/bin:/bin",
                    "HOME": "/nonexistent",
                    "LANG": "C.UTF-8",
                    "MPLCONFIGDIR": str(FONT_CACHE),
                    "MPLBACKEND": "Agg",
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            os.chmod(FONT_CACHE, 0o755)
        except (OSError, subprocess.SubprocessError):
            return None
    return FONT_CACHE if any(FONT_CACHE.glob("fontlist-*.json")) else None


def build_sandbox(root: pathlib.Path, ag: pathlib.Path, nb: uploads.Notebook, work: pathlib.Path) -> None:
    """The student's folder: Otter's layout with the probes and public tests, the inputs, a hand-over folder."""
    run = root / "ag"
    (run / "source").mkdir(parents=True)
    (run / "submission").mkdir()
    (run / "results").mkdir()
    shutil.copytree(ag / "source" / "tests", run / "source" / "tests")
    (run / "source" / "files").mkdir()
    shutil.copy(ag / "source" / "files" / "hw1_probes.py", run / "source" / "files")
    config = json.loads((ag / "source" / "otter_config.json").read_text())
    config.update(logo=False, pdf=False, token=None)
    (run / "source" / "otter_config.json").write_text(json.dumps(config))
    (run / "submission" / "hw1.ipynb").write_text(uploads.to_json(nb))
    shutil.copytree(work / "inputs", root / "inputs")
    (root / "handover").mkdir()
    (root / "home").mkdir()
    fonts = font_cache() if os.geteuid() == 0 else None
    if fonts is not None:
        (root / "home" / ".cache" / "matplotlib").mkdir(parents=True)
        for path in fonts.glob("fontlist-*.json"):
            shutil.copy(path, root / "home" / ".cache" / "matplotlib")
    shutil.copy(RUNNER, root / "runner.py")


def phase_notes(phase: Mapping[str, Any]) -> list[str]:
    """Grading notes on the student phase: only what the route saw for itself (how and when the phase ended, its
    memory and disk, processes left running), and one bounded claim of the phase's own record, labelled as such.
    No count, cell or text that the student's code could choose is shown in the grader's voice."""
    notes = []
    if phase["ended"] == "time limit" and phase.get("stopped_by") == "wall":
        notes.append(
            f"Grading stopped your notebook after {PHASE_WALL_CAP} s on the clock, the last-resort limit for the whole "
            "notebook: it was waiting (sleeping, or for input), not computing."
        )
    elif phase["ended"] == "time limit":
        notes.append(
            f"Grading stopped your notebook once it had used {PHASE_TIMEOUT} s of CPU time, the time limit for the "
            "whole notebook."
        )
    elif phase["ended"] == "stopped early":
        notes.append(
            "Your notebook did not run to the end: its kernel died (os._exit, sys.exit in a check, a kill, or running "
            "out of memory). Questions whose answers were handed over before that are graded; the others score 0."
        )
    if phase.get("out_of_memory"):
        notes.append(
            f"Your notebook ran out of its {STUDENT_MEMORY // MB} MB of memory, and a process of it was stopped."
        )
    if phase.get("disk_full"):
        notes.append(
            f"Your notebook filled its {STUDENT_DISK // MB} MB of disk (its folder, /tmp and /dev/shm together): "
            "writes beyond that failed."
        )
    if phase.get("cell_timeouts_reported"):
        notes.append(
            f"The record kept while your notebook ran (written by the process that ran it, which your code can change) "
            f"says that a cell used more than the {CELL_TIMEOUT} s of CPU time allowed per cell and was interrupted."
        )
    if phase.get("killed"):
        notes.append("Processes that your notebook left running were stopped when it ended.")
    return notes


def phase_record(
    code: int | None,
    seconds: float,
    progress: Mapping[str, Any],
    observed: Mapping[str, Any],
    stopped_by: str | None = None,
) -> dict[str, Any]:
    """How the student phase ended, for the notes and the verdict's visible summary: the route's own facts (the
    runner's exit, what stopped it: its CPU time or the wall clock, the route's clock, the cgroup's OOM count, the
    disk's use), and of the student's progress record only whether it claims a cell time-out (one yes or no)."""
    timed_out = progress.get("timed_out")
    return {
        "ended": "time limit" if code is None else "end" if code == 0 else "stopped early",
        "stopped_by": stopped_by,
        "seconds": round(seconds, 1),
        "phase_limit": PHASE_TIMEOUT,
        "wall_cap": PHASE_WALL_CAP,
        "cell_limit": CELL_TIMEOUT,
        "cell_timeouts_reported": bool(isinstance(timed_out, list) and timed_out),
        **observed,
    }


def write_json(path: str | pathlib.Path, value: object, mode: int | None = None) -> None:
    """Writes ``path`` whole or not at all (a temporary file, then a rename): a full disk leaves no half a file."""
    target = pathlib.Path(path)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(json.dumps(value, indent=2))
    if mode is not None:
        os.chmod(partial, mode)
    os.replace(partial, target)


def reported_phase_timings(answers: pathlib.Path) -> dict[str, Any]:
    """The student phase's own clock readings (phase_timings.json), for the benchmark only: numbers or nothing.
    The phase is the student's, so nothing here is trusted; it only splits the phase's time for the instructor."""
    raw = handover.read_record(answers, "phase_timings.json")

    def number(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e11

    out: dict[str, Any] = {
        k: raw[k] for k in ("started", "imported", "first_cell", "last_cell_end", "ended") if number(raw.get(k))
    }
    seconds = raw.get("seconds")
    if isinstance(seconds, dict):
        out["seconds"] = {k: seconds[k] for k in ("otter_setup", "student", "checks") if number(seconds.get(k))}
    return out


def write_timings(results_dir: pathlib.Path, clock: Mapping[str, float], reported: Mapping[str, Any]) -> None:
    """results/timings.json: the route's own wall-clock marks (time.time()) of each phase, and the student
    phase's reported split of its time (untrusted, instructors' eyes only; tools/measure/benchmark.py reads it)."""
    marks = {k: round(v, 3) for k, v in clock.items()}
    write_json(pathlib.Path(results_dir) / "timings.json", {"route": marks, "student_phase_reported": reported}, 0o600)


SCRATCH = {"/tmp": "tmp", "/var/tmp": "var-tmp", "/dev/shm": "shm"}  # on the grading's tmpfs, bound there


class StudentDisk:
    """The student phase's one disk: a tmpfs of STUDENT_DISK bytes (plus what root puts there) mounted on its
    folder, in the route's own mount namespace, holding its folder, home, hand-over, /tmp, /var/tmp and /dev/shm.
    Its pages are charged to the memory cgroup of whoever writes them, so a student who fills it pays with its
    own memory. Where no tmpfs can be mounted (a container without CAP_SYS_ADMIN), the folder stays on the
    platform's disk, each file bounded by RLIMIT_FSIZE, and the log says so."""

    def __init__(self, root: pathlib.Path, placed_bytes: int) -> None:
        self.root, self.size, self.mounted = root, STUDENT_DISK + placed_bytes, False
        self.why = sandbox.private_mounts()
        if not self.why:
            self.why = sandbox.mount_tmpfs(root, self.size)
            self.mounted = not self.why
        for folder in SCRATCH.values():
            (root / folder).mkdir(mode=0o1777)
            os.chmod(root / folder, 0o1777)

    def scratch(self) -> dict[str, str | os.PathLike[str]] | None:
        return {path: self.root / folder for path, folder in SCRATCH.items()} if self.mounted else None

    def full(self) -> bool:
        used = sandbox.disk_used(self.root) if self.mounted else None
        return used is not None and used >= self.size - 4 * MB

    def describe(self) -> str:
        if self.mounted:
            return f"{STUDENT_DISK // MB} MB of disk: one tmpfs for its folder, /tmp, /var/tmp and /dev/shm"
        return f"no disk budget ({self.why}): each file it writes is at most {STUDENT_DISK // MB} MB (RLIMIT_FSIZE)"

    def remove(self) -> None:
        if self.mounted:
            sandbox.unmount(self.root)
        sandbox.remove(self.root)


def student_sandbox(
    root: pathlib.Path, uid: int, gid: int, disk: StudentDisk, work: pathlib.Path
) -> tuple[sandbox.Wrap | None, sandbox.Cgroup | None, dict[str, Any]]:
    """(namespaces, cgroup, what they are) for the student phase, each where the platform gives it.

    Namespaces: bubblewrap (sandbox.namespace_argv), with the seccomp filter where there is one for this machine.
    Limits: a cgroup with the grading's CPU quota (the CPUs this grading was given: its affinity, or its own
    cgroup's quota), a memory limit and a process limit; the disk (``StudentDisk``). None is required: without
    them the route still grades, and says so in its log (the instructor's side: run_autograder's output), relying
    on the platform's one container per submission.
    """
    cpus, threads, share = cpu_share()
    group, group_note = sandbox.Cgroup.create(
        f"hw1-{SANDBOX_USER}-{os.getpid()}", cpus=cpus, memory=STUDENT_MEMORY, pids=STUDENT_PROCESSES
    )
    isolation: dict[str, Any] = {"namespaces": None, "cgroup": None, "disk": disk.describe()}
    namespaces = student_namespaces(root, uid, gid, disk, work, isolation)
    print(f"hw1 limits: the student phase has {disk.describe()}", flush=True)
    describe_cgroup(group, group_note, (cpus, threads, share), isolation)
    return namespaces, group, isolation


def student_namespaces(
    root: pathlib.Path, uid: int, gid: int, disk: StudentDisk, work: pathlib.Path, isolation: dict[str, Any]
) -> sandbox.Wrap | None:
    """The student phase's namespaces (bubblewrap, with the seccomp filter where there is one for this machine)
    as a function that wraps an argv, or None where the platform allows none; said in ``isolation`` and the log."""
    tools, why = sandbox.probe_namespaces(uid, gid)
    if tools is None:
        isolation["no_namespaces"] = why
        print(
            f"hw1 isolation: no namespaces ({why}): the student phase runs as {SANDBOX_USER} behind the route's "
            f"own locks; this grading relies on the platform's isolation of one container per submission",
            flush=True,
        )
        return None
    data = settings.DATA_ROOT.value()
    readonly = sandbox.readonly_paths(
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        str(pathlib.Path(sys.executable).resolve().parent.parent),
        data,
    )
    program, no_filter = sandbox.seccomp_program()
    if program is not None:
        (work / "seccomp.bpf").write_bytes(program)

    def namespaces(argv: list[str]) -> tuple[list[str], tuple[int, ...]]:
        seccomp = os.open(work / "seccomp.bpf", os.O_RDONLY) if program is not None else None
        wrapped = sandbox.namespace_argv(tools, root, readonly, uid, gid, argv, STUDENT_MEMORY, disk.scratch(), seccomp)
        return wrapped, () if seccomp is None else (seccomp,)

    isolation["namespaces"] = sandbox.bwrap_version(tools)
    isolation["seccomp"] = "x86_64 filter" if program is not None else no_filter
    print(
        f"hw1 isolation: the student phase runs in {isolation['namespaces']}: its own mount, PID, IPC, network "
        f"(loopback only) and UTS namespaces; it sees /usr, /etc, {', '.join(readonly)} read-only, its own folder, "
        f"and private, empty /tmp, /var/tmp and /dev/shm; "
        + (
            f"a seccomp filter denies {len(sandbox.DENIED_SYSCALLS)} system calls (new namespaces among them)"
            if program is not None
            else f"no seccomp filter: {no_filter}"
        ),
        flush=True,
    )
    return namespaces


def describe_cgroup(
    group: sandbox.Cgroup | None, group_note: str, cpu: tuple[float, int, str], isolation: dict[str, Any]
) -> None:
    """The student phase's cgroup limits (cpu: (CPUs, threads, where the share comes from)), in ``isolation``
    and the log; without a cgroup, only the process count is capped."""
    cpus, threads, share = cpu
    if group is not None:
        isolation["cgroup"] = {
            "version": group.version,
            "cpus": round(cpus, 2),
            "memory_mb": STUDENT_MEMORY // MB,
            "processes": STUDENT_PROCESSES,
        }
        print(
            f"hw1 limits: {group_note}: {cpus:.2f} CPUs ({share}; {threads} thread{'s' if threads > 1 else ''}), "
            f"{STUDENT_MEMORY // MB} MB of memory (no swap), {STUDENT_PROCESSES} processes",
            flush=True,
        )
    else:
        isolation["no_cgroup"] = group_note
        print(
            f"hw1 limits: {group_note}: only the process count is capped (RLIMIT_NPROC {STUDENT_PROCESSES}); "
            f"CPU and memory are the platform's",
            flush=True,
        )


def autograder_id_of(ag: pathlib.Path) -> str:
    stamp = ag / "source" / "files" / "hw1_trusted" / "AUTOGRADER_ID"
    return stamp.read_text().strip() if stamp.exists() else "unknown"


def folder_bytes(folder: str | pathlib.Path) -> int:
    return sum(p.stat().st_size for p in pathlib.Path(folder).rglob("*") if p.is_file())


def student_env(root: pathlib.Path) -> dict[str, str]:
    return {
        "PATH": f"{pathlib.Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(root / "home"),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HW1_HANDOVER": str(root / "handover"),
        "TMPDIR": str(root / "home"),
        "HW1_PROBE_INPUTS": str(root / "inputs"),
        "HW1_DATA_DIR": str(pathlib.Path(settings.DATA_ROOT.value())),
        **thread_caps(cpu_share()[1]),
    }


class PhaseWatch:
    """The student phase's limits as the route counts them: CPU seconds of its processes (its cgroup's count, else
    /proc's for its user), and on the wall clock only the cap, the last resort. It also keeps how long those
    processes waited for a CPU while ready to run (the scheduler's run delay, /proc/PID/schedstat): a phase
    stopped at the wall cap that used well under its CPU share while it waited is starved by the machine, a grader
    fault, never the student's time limit."""

    def __init__(self, group: sandbox.Cgroup | None, uid: int | None, cpus: float) -> None:
        self.group, self.uid, self.cpus = group, uid, cpus
        self.cpu = 0.0
        self.waited: dict[int, float] = {}  # pid -> its run delay when last seen

    def _pids(self) -> set[int]:
        if self.group is not None:
            return self.group.pids()
        return set(sandbox.processes_of(self.uid)) if self.uid is not None else set()

    def _cpu(self, pids: set[int]) -> float:
        used = self.group.stats().get("cpu_seconds") if self.group is not None else None
        if used is None:  # no cgroup: the user's live processes, their reaped children included
            used = sum(c for c in map(sandbox.cpu_of, pids) if c is not None)
        return max(self.cpu, float(used))

    def __call__(self, elapsed: float) -> str | None:
        pids = self._pids()
        for pid in pids:
            delay = sandbox.run_delay(pid)
            if delay is not None:
                self.waited[pid] = max(delay, self.waited.get(pid, 0.0))
        self.cpu = self._cpu(pids)
        return "cpu" if self.cpu >= PHASE_TIMEOUT else None

    def starved(self, seconds: float) -> bool:
        """Stopped at the wall cap having had less than STARVED_SHARE of its CPU share while its processes waited
        for a CPU for over a quarter of the time: the machine was too busy (a sleeping notebook waits for nothing; one
        whose own threads queue for its CPU still gets all of its share)."""
        return self.cpu < STARVED_SHARE * self.cpus * seconds and sum(self.waited.values()) > 0.25 * seconds

    def record(self, seconds: float) -> dict[str, float]:
        return {"cpu_seconds": round(self.cpu, 1), "waited_for_cpu": round(sum(self.waited.values()), 1),
                "wall_seconds": round(seconds, 1), "cpu_share": round(self.cpus, 2)}  # fmt: skip


# Below this fraction of its CPU share, a phase that queued for a CPU was starved. Measured: the solution beside
# four busy processes on its CPU and two on the other got 0.59 of its share (23.6 CPU s in 40 s) and waited 16 s;
# at 0.5 that was graded low. A notebook whose own threads contend gets about all of its share.
STARVED_SHARE = 0.8
BUSY = "the machine was too busy"  # a grader fault's reason: the phase was starved of CPU, not slow


def run_student_phase(
    root: pathlib.Path,
    nb: uploads.Notebook,
    ag: pathlib.Path,
    work: pathlib.Path,
    ids: tuple[int, int] | tuple[None, None],
    clock: dict[str, float],
) -> tuple[int | None, float, dict[str, Any], dict[str, Any], handover.Collected]:
    """Lays out the student's folder on its own disk, runs the notebook as the sandbox user, ends every process of
    it, copies its hand-over out; returns (exit code or None when a limit stopped it, seconds, what the route
    observed, isolation, handover.Collected). Raises GraderFault(BUSY) when the machine starved the phase."""
    uid, gid = ids
    placed = folder_bytes(work / "inputs") + folder_bytes(ag / "source" / "tests") + len(uploads.to_json(nb)) + 16 * MB
    disk = StudentDisk(root, placed) if uid is not None else None
    try:
        build_sandbox(root, ag, nb, work)
        namespaces: sandbox.Wrap | None = None
        group: sandbox.Cgroup | None = None
        isolation: dict[str, Any] = {}
        if uid is not None and gid is not None and disk is not None:
            # the folder stays root's, so that the student cannot swap its parts; the user owns only its own
            for part in ("ag", "home", "handover"):
                sandbox.chown_tree(root / part, uid, gid)
                os.chmod(root / part, 0o700)
            os.chmod(root, 0o711)
            clock["inputs_end"] = time.time()
            namespaces, group, isolation = student_sandbox(root, uid, gid, disk, work)
        clock.setdefault("inputs_end", time.time())
        clock["student_start"] = time.time()
        watch = PhaseWatch(group, uid, cpu_share()[0])
        try:
            argv = [sys.executable, str(root / "runner.py"), str(root / "ag"), str(root / "handover")]
            code, seconds, stopped = sandbox.run_as(
                uid, gid, [*argv, str(CELL_TIMEOUT), str(PHASE_WALL_CAP)], student_env(root), root, PHASE_WALL_CAP,
                work / "student_phase.log", namespaces, group, file_size=STUDENT_DISK, output_limit=OUTPUT_KEPT,
                watch=watch,
            )  # fmt: skip
            isolation["time"] = {**watch.record(seconds), "stopped": stopped}
            starved = stopped == "wall" and watch.starved(seconds)
            clock["student_exited"] = time.time()
            observed = end_student_phase(uid, group, namespaces is not None, disk, seconds, isolation)
        finally:
            if group is not None:
                group.remove()
        if uid is not None:
            sandbox.remove_files_of(uid)
        if starved:  # only now, with every process of the phase ended and its files removed
            raise GraderFault(BUSY)
        collected = handover.collect(root / "handover", work / "answers", uid, list(checks_questions()))
        return code, seconds, observed, isolation, collected
    finally:
        if disk is not None:
            disk.remove()
        else:
            sandbox.remove(root)


def end_student_phase(
    uid: int | None,
    group: sandbox.Cgroup | None,
    namespaced: bool,
    disk: StudentDisk | None,
    seconds: float,
    isolation: dict[str, Any],
) -> dict[str, Any]:
    """Kills every process of the phase (its user's, its cgroup's) and returns what the route saw of it: OOM kills,
    processes left running, a full disk; the cgroup's figures go into ``isolation`` and the log."""
    observed: dict[str, Any] = {}
    killed = sandbox.kill_all(uid) if uid is not None else 0
    if group is not None:
        killed += group.kill()
        isolation["used"] = used = group.stats()
        observed["out_of_memory"] = bool(used.get("oom_kills"))
        print(
            f"hw1 limits: the student phase used {used['cpu_seconds']} CPU s in {seconds:.1f} s, was throttled "
            f"{used['throttled']} times, peaked at {used['memory_peak_mb']} MB, OOM kills: {used['oom_kills']}",
            flush=True,
        )
    # with namespaces, what was left ended with its PID namespace, racing these kills: no note
    observed["killed"] = bool(killed) and not namespaced
    observed["disk_full"] = disk is not None and disk.full()
    return observed


def checks_questions() -> list[str]:
    """The autograded questions (checks.CASES)."""
    from . import checks

    return list(checks.CASES)


def grade(
    ag: pathlib.Path, results_dir: pathlib.Path, work: pathlib.Path, autograder_id: str, clock: dict[str, float]
) -> None:
    """The route's steps for one upload: the upload, the inputs, the student phase, the collection, the verdict.
    Raises GraderFault (or OSError...) for the grader's own failures; the caller turns them into a result."""
    notes = [f"Autograder {autograder_id[:12]}."]
    try:
        nb = uploads.normalise(ag / "submission")
    except uploads.BadUpload as problem:
        write_json(work / "notes.json", notes + [str(problem)])
        if trusted("reject", work, results_dir, autograder_id, str(problem)).returncode != 0:
            raise GraderFault("the refusal of the upload could not be written") from None
        return
    ids: tuple[int, int] | tuple[None, None] = (None, None)
    if os.geteuid() == 0:  # before the trusted process starts, whose cgroup the stale ones' removal would take too
        ids = sandbox.ensure_user(SANDBOX_USER)
        sandbox.kill_all(ids[0])  # nothing of an earlier grading may linger
        sandbox.remove_stale_cgroups(f"hw1-{SANDBOX_USER}-")
    clock["inputs_start"] = time.time()
    server = TrustedProcess(work, autograder_id)
    try:
        if not server.inputs_ready():
            raise GraderFault(
                "the autograder could not prepare its inputs (its datasets missing or corrupt, or its disk full)"
            )
        root = pathlib.Path(tempfile.mkdtemp(prefix="hw1-sandbox-"))
        code, seconds, observed, isolation, collected = run_student_phase(root, nb, ag, work, ids, clock)
        clock["student_end"] = time.time()
        progress = handover.read_record(work / "answers", "progress.json")
        phase = phase_record(code, seconds, progress, observed, isolation.get("time", {}).get("stopped"))
        notes += phase_notes(phase)
        write_json(work / "notes.json", notes)
        write_json(work / "phase.json", phase)
        write_json(work / "collected.json", collected.as_json())
        write_json(work / "timings.json", {"prepare": round(clock["inputs_end"] - clock["inputs_start"], 2),
                                           "student": round(seconds, 2)})  # fmt: skip
        # what the route saw of the phase, for the verdict to put into results.json (instructors' eyes only)
        write_json(work / "route_facts.json", {"isolation": isolation,
                                               "handover": {"bytes_copied": collected.bytes, "cap": handover.TOTAL_CAP}})  # fmt: skip
        clock["verdict_start"] = time.time()
        if not server.verdict(results_dir, autograder_id):
            raise GraderFault(
                f"the verdict did not finish within its limits ({TRUSTED_TIMEOUT} s, {TRUSTED_MEMORY // MB} MB)"
            )
    finally:
        server.close()
    clock["verdict_end"] = time.time()
    write_timings(results_dir, clock, reported_phase_timings(work / "answers"))


LIMITS = {  # the limits in force, for the record
    "cell_cpu_seconds": CELL_TIMEOUT,
    "notebook_cpu_seconds": PHASE_TIMEOUT,
    "notebook_wall_seconds": PHASE_WALL_CAP,
    "student_memory_mb": STUDENT_MEMORY // MB,
    "student_disk_mb": STUDENT_DISK // MB,
    "trusted_memory_mb": TRUSTED_MEMORY // MB,
    "trusted_seconds": TRUSTED_TIMEOUT,
}


def write_record(results_dir: pathlib.Path, clock: Mapping[str, float]) -> None:
    """grading.json, once, from results.json as the grading left it (root's own file): the typed record that the
    tools read. A results.json that cannot be read, or a verdict that left a question out, is a grader fault."""
    spans = {"prepare": ("inputs_start", "inputs_end"), "student": ("student_start", "student_end"),
             "verdict": ("verdict_start", "verdict_end")}  # fmt: skip
    timings = {k: round(clock[b] - clock[a], 2) for k, (a, b) in spans.items() if a in clock and b in clock}
    try:
        results = json.loads((pathlib.Path(results_dir) / "results.json").read_text())
        graded = record.from_results(results, checks_questions(), timings, LIMITS)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        why = f"the grading left no readable result ({type(error).__name__})"
        graded = record.GradingRecord("", record.Status.GRADER_FAULT, "no_result", why, (), timings, LIMITS)
    record.write(results_dir, graded)


def write_grader_fault(results_dir: pathlib.Path, autograder_id: str, why: str) -> None:
    """Every question 0 with a sentence that the grader failed, status grader_fault: a rerun grades it again."""
    from . import verdict

    if why == BUSY:
        sentence = (
            "not graded: the machine was too busy (the grading machine gave your notebook too little CPU to finish "
            "in time; nothing in your submission caused it). It will be graded again."
        )
    else:  # the grader's own words (a GraderFault's message, or the kind of error): never text of the student's
        sentence = (
            f"not graded: grader fault: {why} (nothing in your submission caused it). "
            "Please tell your instructor; it will be graded again."
        )
    notes = [
        f"Autograder {autograder_id[:12]}.",
        "The autograder failed on its own side: your submission was not graded.",
    ]
    graded = verdict.not_graded(checks_questions(), sentence)
    verdict.write(results_dir, graded, notes, [], autograder_id, status=(verdict.GRADER_FAULT, why, sentence))


def grade_upload(ag_dir: str | pathlib.Path, results: str | pathlib.Path) -> None:
    ag, results_dir = pathlib.Path(ag_dir), pathlib.Path(results)
    results_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        lock_down(ag)
    autograder_id = autograder_id_of(ag)
    work = pathlib.Path(tempfile.mkdtemp(prefix="hw1-trusted-"))  # root's, mode 0700
    clock: dict[str, float] = {}  # wall-clock marks of each phase, for results/timings.json
    try:
        try:
            grade(ag, results_dir, work, autograder_id, clock)
        except Exception as error:  # the grader's own failure (a full disk, its inputs, its verdict): never a grade
            if isinstance(error, GraderFault):  # its message is the grader's own sentence
                why = str(error)[:300]
            else:  # the details (paths, errno) go to the log, the kind of error to the result
                why = f"the autograder failed on its own side ({type(error).__name__})"
            print(f"hw1 grader fault: {type(error).__name__}: {error}", flush=True)
            traceback.print_exc()
            write_grader_fault(results_dir, autograder_id, why)  # if this fails too: no results.json, a failed grading
        finally:
            write_record_or_say_why(results_dir, clock)
    finally:
        if settings.KEEP_WORK.is_set():
            print(f"trusted work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def write_record_or_say_why(results_dir: pathlib.Path, clock: Mapping[str, float]) -> None:
    try:
        write_record(results_dir, clock)
    except OSError as error:  # no record: the tools count the grading as failed and grade it again
        print(f"hw1 grader fault: the grading record could not be written: {type(error).__name__}", flush=True)


def main(argv: list[str]) -> None:
    ag = pathlib.Path(argv[0]) if argv else pathlib.Path(settings.AUTOGRADER_DIR.value())
    grade_upload(ag, ag / "results")
