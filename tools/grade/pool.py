"""make grade's pool: gradings side by side, each with its own CPU, sandbox user, scratch folder and time limit.

``grade_one_submission`` grades one upload through the route (``tools.grade.gradescope.run_as_gradescope``) and never
raises; ``run_pool`` runs them ``jobs`` at a time; ``choose_jobs`` picks that number from the CPUs and the memory,
and says why; ``Progress`` shows the count, the time left and, at the end, the throughput.
"""

from __future__ import annotations

import fcntl
import math
import os
import pathlib
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from tools import errors
from tools.grade import gradescope
from tools.grade.gradebook import (
    COMPLETED,
    FAILED,
    REJECTED,
    TIMEOUT,
    Row,
    keep,
    upload_hash_or_none,
)
from tools.grade.submissions import Submission
from tools.report.safe_text import terminal
from tools.trusted import trusted_module

DEFAULT_TIMEOUT = 600  # s: above the route's own limits (inputs, 420 s for the notebook, the verdict)
USER_BASE = "hw1grade"
LOCKS = pathlib.Path("/run/hw1-grade")


def classify(graded_results: pathlib.Path, result: gradescope.Result, ag_id: str) -> tuple[str, str]:
    """(status, message) of a grading that produced results.json, from the route's typed record (grading.json
    in ``graded_results``: completed, rejected or grader_fault, with a reason code), never from its prose."""
    record = trusted_module("record")
    stamp = result.raw.get("extra_data", {}).get("autograder")
    if stamp != ag_id:
        return FAILED, f"the results carry autograder {str(stamp)[:12]}, not the zip's {ag_id[:12]}"
    try:
        graded = record.read(graded_results)
    except record.RecordError as error:
        return FAILED, str(error)[:300]
    if graded.autograder != ag_id:
        return FAILED, f"the grading record is of autograder {graded.autograder[:12]}, not the zip's {ag_id[:12]}"
    if graded.status is record.Status.COMPLETED:
        return COMPLETED, ""
    if graded.status is record.Status.GRADER_FAULT:
        return FAILED, f"grader fault: {graded.reason}"
    return REJECTED, graded.message or "the upload could not be graded"  # the sentence the student saw


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def grade_one_submission(
    submission: Submission,
    out_dir: pathlib.Path | None,
    autograder_zip: str | pathlib.Path,
    ag_id: str,
    user: str,
    cpu: str,
    timeout: float,
    extra_env: Mapping[str, str] | None = None,
    private_tmp: bool = True,
) -> Row:
    """Grades one upload through the route (as Gradescope runs the zip) and never raises: returns its Row.

    When ``out_dir`` is given, its results.json, results.pkl, grading.log and grading.json replace
    whatever an earlier grading left there. ``private_tmp`` gives the route a scratch folder of its own
    as TMPDIR (its sandbox and work folders), removed afterwards even when the grading was stopped.
    """
    started = time.monotonic()
    digest = upload_hash_or_none(submission.path)  # of what is graded, before it is read
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="hw1-bulk-"))  # root's alone (0700) from the start
    if not sandboxed(extra_env):
        scratch.chmod(0o711)  # without namespaces the sandbox user must traverse it to reach its own folder
    graded = scratch / "graded"
    env = dict(extra_env or {})
    if private_tmp:
        env["TMPDIR"] = str(scratch)
    result: gradescope.Result | None = None
    trailer = ""
    try:
        try:
            result = gradescope.run_as_gradescope(
                submission.path, graded, autograder_zip, user=user, cpus=cpu, extra_env=env, timeout=timeout
            )
            status, message = classify(graded / "autograder" / "results", result, ag_id)
            if status in (COMPLETED, REJECTED) and not (graded / "autograder" / "results" / "results.pkl").exists():
                status, message = FAILED, "the route wrote results.json but no results.pkl"
        except subprocess.TimeoutExpired:
            status, message = (
                TIMEOUT,
                (
                    f"grading was stopped after {timeout:g} s, the time limit per submission "
                    f"(its notebook may never end)"
                ),
            )
        except Exception as error:  # the route made no verdict: this row says why, the batch goes on
            status, message = FAILED, _one_line(error)
            trailer = traceback.format_exc()
        seconds = time.monotonic() - started
        if out_dir is not None:
            keep(out_dir, submission, digest, graded, status, message, seconds, ag_id, user, env, timeout, trailer)
        return Row(submission, status, message, result if status in (COMPLETED, REJECTED) else None, seconds, True)
    except Exception as error:  # keeping the files failed (disk full...): still a row
        return Row(submission, FAILED, _one_line(error), None, time.monotonic() - started, True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def grading_memory_gb() -> float:
    """What one grading may hold at once, by its limits: the student phase (its memory, its tmpfs within it) and the
    trusted process beside it (the inputs while the student runs, then the verdict)."""
    settings = trusted_module("settings")
    return float(settings.STUDENT_MEMORY_MB.value() + settings.TRUSTED_MEMORY_MB.value()) / 1024


def memory_limit_gb() -> tuple[float | None, str]:
    """This process's memory: the smaller of /proc/meminfo's MemAvailable and its cgroup's limit (a container's,
    cgroup v2 memory.max or v1 memory.limit_in_bytes), in GB, with where it comes from; (None, why) if unknown."""
    found: list[tuple[float, str]] = []
    try:
        match = re.search(r"MemAvailable:\s+(\d+) kB", pathlib.Path("/proc/meminfo").read_text())
        kb = int(match.group(1))  # type: ignore[union-attr]  # no match: AttributeError, below
        found.append((kb / 2**20, "available"))
    except (OSError, AttributeError):
        pass
    sandbox = trusted_module("sandbox")
    for path in sandbox.own_cgroup_files("memory.max", "memory.limit_in_bytes"):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            found.append((int(text) / 2**30, "the container's limit"))
    if not found:
        return None, "memory unknown"
    least, where = min(found)
    return least, where


def choose_jobs() -> tuple[int, str]:
    """(workers, why): one grading per CPU this process may use (its cgroup quota too), as many as the memory holds
    by the sum of one grading's limits (student and trusted phases together), e.g.
    (2, "2 CPUs; 23.1 GB available holds 3 gradings of 6 GB (their limits)")."""
    cpus = len(os.sched_getaffinity(0))
    cpu_why = f"{cpus} CPU{'s' if cpus != 1 else ''}"
    quota = trusted_module("route").cgroup_cpu_limit()
    if quota is not None and int(quota) < cpus:
        cpus = max(1, int(quota))
        cpu_why = f"a CPU quota of {quota:g} CPUs"
    memory, where = memory_limit_gb()
    if memory is None:
        return max(1, cpus), f"{cpu_why}; {where}"
    each = grading_memory_gb()
    by_memory = int(memory / each)
    return max(1, min(cpus, by_memory)), (
        f"{cpu_why}; {memory:.1f} GB ({where}) holds {by_memory} grading{'s' if by_memory != 1 else ''} "
        f"of {each:g} GB (their limits)"
    )


def claim_users(count: int, base: str = USER_BASE) -> list[tuple[str, int]]:
    """``count`` sandbox user names no other batch on this machine is using, each held by a lock until exit."""
    LOCKS.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(LOCKS)
    if not os.path.isdir(LOCKS) or os.path.islink(LOCKS) or info.st_uid != 0:
        raise errors.GradingSetupError(f"{LOCKS} must be a folder of root's")
    users: list[tuple[str, int]] = []
    k = 0
    while len(users) < count:
        name = gradescope.sandbox_user(f"{base}{k}")
        fd = os.open(LOCKS / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            users.append((f"{base}{k}", fd))
        except BlockingIOError:
            os.close(fd)
        k += 1
        if k > count + 64:
            raise errors.GradingSetupError("no free sandbox user: too many batches are grading on this machine")
    return users


def sandboxed(extra_env: Mapping[str, str] | None = None) -> bool:
    """Whether the route will run each student phase in its namespaces (bubblewrap), as root here."""
    if os.geteuid() != 0:
        return False
    sandbox = trusted_module("sandbox")
    disabled = (extra_env or {}).get(sandbox.DISABLE, os.environ.get(sandbox.DISABLE))
    saved = os.environ.get(sandbox.DISABLE)
    try:
        if disabled is not None:
            os.environ[sandbox.DISABLE] = disabled
        tools, _ = sandbox.probe_namespaces(65534, 65534)
    finally:
        if saved is None:
            os.environ.pop(sandbox.DISABLE, None)
        else:
            os.environ[sandbox.DISABLE] = saved
    return tools is not None


def run_pool(
    submissions: Sequence[Submission],
    autograder_zip: str | pathlib.Path,
    ag_id: str,
    jobs: int,
    timeout: float,
    out: str | pathlib.Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    on_done: Callable[[Row], None] | None = None,
    user_base: str = USER_BASE,
    private_tmp: bool = True,
    stop: threading.Event | None = None,
    on_tick: Callable[[], None] | None = None,
) -> dict[str, Row]:
    """Grades ``submissions`` ``jobs`` at a time; calls ``on_done(row)`` as each ends (and ``on_tick()`` every
    second meanwhile); returns {key: Row}."""
    if not submissions:
        return {}
    jobs = max(1, min(jobs, len(submissions)))
    if jobs > 1 and os.geteuid() == 0 and not sandboxed(extra_env):
        raise errors.GradingSetupError(
            "gradings run side by side only in the route's sandbox (bubblewrap's namespaces), which is "
            "not available here: install bubblewrap (apt-get install bubblewrap), or grade one at a time "
            "(JOBS=1)"
        )
    cpus = sorted(os.sched_getaffinity(0))
    if os.geteuid() == 0:
        gradescope.place_data()  # once, before the workers: they would race to build it
    users = claim_users(jobs, user_base)
    todo: queue.Queue[Submission] = queue.Queue()
    finished: queue.Queue[Row] = queue.Queue()
    for submission in submissions:
        todo.put(submission)
    stopping = stop or threading.Event()
    # each grading knows how many share the CPUs (its threads: route.cpu_share), besides its own pinned CPU
    env = {**(extra_env or {}), trusted_module("settings").GRADINGS_AT_ONCE.name: str(jobs)}

    def worker(k: int, user: str) -> None:
        while not stopping.is_set():
            try:
                submission = todo.get_nowait()
            except queue.Empty:
                return
            out_dir = None if out is None else pathlib.Path(out) / submission.folder
            finished.put(
                grade_one_submission(
                    submission,
                    out_dir,
                    autograder_zip,
                    ag_id,
                    user,
                    str(cpus[k % len(cpus)]),
                    timeout,
                    env,
                    private_tmp,
                )
            )

    threads = [threading.Thread(target=worker, args=(k, user), daemon=True) for k, (user, _) in enumerate(users)]
    for t in threads:
        t.start()
    rows: dict[str, Row] = {}
    try:
        while len(rows) < len(submissions):
            try:
                row = finished.get(timeout=1)
            except queue.Empty:
                if not any(t.is_alive() for t in threads) and finished.empty():
                    break
                if on_tick:
                    on_tick()
                continue
            if stopping.is_set():
                continue  # an interrupted grading: no row, a rerun grades it
            rows[row.key] = row
            if on_done:
                on_done(row)
    except BaseException:
        stopping.set()
        gradescope.stop_running()
        for t in threads:
            t.join(timeout=30)
        raise
    finally:
        for _, fd in users:
            os.close(fd)
    return rows


def duration(seconds: float) -> str:
    """42 -> "42 s", 150 -> "2 min 30 s", 4000 -> "1 h 06 min"."""
    s = int(round(seconds))
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


@dataclass
class Throughput:
    """How fast a run graded: the uploads graded now (not kept from earlier runs), in how long, with how many workers."""

    graded: int
    seconds: float
    workers: int
    why: str  # why that many workers (choose_jobs)

    @property
    def per_hour(self) -> float | None:
        return 3600 * self.graded / self.seconds if self.graded and self.seconds > 0 else None

    def sentence(self) -> str:
        """e.g. "20 submissions graded in 41 min 10 s: 29.1 submissions per hour with 2 workers (2 CPUs; ...)"."""
        rate = f": {self.per_hour:.1f} submissions per hour" if self.per_hour else ""
        return (
            f"{self.graded} submission{'s' if self.graded != 1 else ''} graded in {duration(self.seconds)}{rate} "
            f"with {self.workers} worker{'s' if self.workers != 1 else ''} ({self.why})"
        )

    def __str__(self) -> str:
        return f"throughput: {self.sentence()}"


class Progress:
    """A bar with the count done and the time left on a terminal; one line per submission otherwise."""

    def __init__(self, total: int, jobs: int, stream: TextIO = sys.stdout) -> None:
        self.total, self.jobs, self.stream = total, max(1, jobs), stream
        self.done, self.started = 0, time.monotonic()
        self.durations: list[tuple[bool, float]] = []
        self.estimate: float | None = None
        self.estimated_at = self.started  # seconds left, as of the last finished grading
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.width = shutil.get_terminal_size((100, 20)).columns
        self.lock = threading.Lock()

    def eta(self) -> str:
        """Time left: the mean grading time for each round of ``jobs`` gradings still to come, counting down."""
        if self.done >= self.total:
            return "done"
        if self.estimate is None:
            return "time left: estimating"
        left = self.estimate - (time.monotonic() - self.estimated_at)
        return f"time left ~{duration(left)}" if left >= 1 else "time left: longer than estimated"

    def bar(self) -> str:
        cells = 30
        filled = int(cells * self.done / self.total) if self.total else cells
        return f"[{'#' * filled}{'.' * (cells - filled)}] {self.done}/{self.total} graded, {self.eta()}"

    def start(self) -> None:
        if self.tty and self.total:
            self.stream.write(self.bar()[: self.width - 1])
            self.stream.flush()

    def update(self, row: Row) -> None:
        with self.lock:
            self.done += 1
            if row.graded_now:  # refused uploads and failures take seconds: they would make the estimate too short
                self.durations.append((row.status in (COMPLETED, TIMEOUT), row.seconds))
            typical = [s for full, s in self.durations if full] or [s for _, s in self.durations]
            if typical:
                self.estimate = math.ceil((self.total - self.done) / self.jobs) * statistics.mean(typical)
                self.estimated_at = time.monotonic()
            score = (
                f"{row.result.total:g}/{row.result.possible:g}"
                if row.result is not None and row.status == COMPLETED
                else "-"
            )
            how = f"{row.seconds:.0f} s" if row.graded_now else "kept from an earlier run"
            status = row.grading_status if len(row.grading_status) < 90 else row.grading_status[:87] + "..."
            # the key is the upload's name, the student's to choose: its control characters are shown escaped
            line = f"[{self.done:>{len(str(self.total))}}/{self.total}] {terminal(row.key)}: {terminal(status)}, {score} ({how})"
            if self.tty:
                self.stream.write("\r\033[K" + line + "\n" + self.bar()[: self.width - 1])
            else:
                self.stream.write(f"{line}; {self.eta()}\n")
            self.stream.flush()

    def tick(self) -> None:
        """Redraws the bar (on a terminal) so that the time left counts down between gradings."""
        if self.tty and self.total:
            with self.lock:
                self.stream.write("\r\033[K" + self.bar()[: self.width - 1])
                self.stream.flush()

    def finish(self) -> None:
        if self.tty and self.total:
            self.stream.write("\n")
        self.stream.write(f"{self.done} submissions in {duration(time.monotonic() - self.started)}\n")
        self.stream.flush()


def check_environment() -> None:
    """The sandbox user runs this interpreter: every folder on its way must be open to others."""
    exe = pathlib.Path(sys.executable)
    paths = {
        exe,
        exe.resolve(),
        *exe.parents,
        *exe.resolve().parents,
        pathlib.Path(sys.prefix) / "lib",
        *(pathlib.Path(sys.prefix) / "lib").parents,
    }
    for folder in sorted(paths):
        if folder.exists() and not os.stat(folder).st_mode & 0o001:
            raise errors.GradingSetupError(
                f"the environment {sys.prefix} cannot be run by the sandbox user ({folder} is closed to "
                f"other users): use one outside /root, e.g. make grade VENV=/opt/hw1-venv ..."
            )
