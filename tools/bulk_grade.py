"""Grades a folder of submissions through the trusted route: Otter's CSV, each submission's results, a class report.

    make grade SUBMISSIONS=folder OUT=dir [REGRADE=name] [FORCE=1] [JOBS=n] [TIMEOUT=seconds]
    python tools/bulk_grade.py SUBMISSIONS OUT [--zip ZIP] [--jobs N] [--timeout S] [--regrade NAME]... [--force]

Every upload is graded exactly as Gradescope runs the zip (``tools/gradescope.py``: the zip's own
``run_autograder`` as root, the student's notebook as an unprivileged user, the verdict in a separate
root process). Needs Linux and root, and an environment the sandbox user can run (``VENV=/opt/hw1-venv``).

**What it grades.** SUBMISSIONS is either

* a folder of uploads: every ``*.ipynb`` and ``*.zip`` (Otter's export) in it, one row each, keyed by
  the file name (other files are listed and ignored); or
* Gradescope's "Export Submissions" folder: ``submission_metadata.yml`` beside one folder per
  submission (``submission_123456/hw1.ipynb``). Rows are keyed by the submission folder (every
  notebook there is named hw1.ipynb), and carry the submitters' names, SIDs and emails from the
  metadata (several for a group submission, joined by ``; ``). Each folder is handed to the route
  as the upload, as Gradescope would.

**How.** ``--jobs`` gradings at once (default: one per CPU this process may use, fewer when memory is
short: about 1.5 GB each), each pinned to its own CPU, with its own sandbox user (``hw1grade<k>``,
claimed with a lock in ``/run/hw1-grade`` so that two batches on one machine never share a user: the
route kills every process of its user) and its own scratch folder. ``--timeout`` (default 600 s) bounds
the whole grading of one upload; on expiry the grading is stopped (its root side and every process of
its user) and the row says so. No submission stops the batch: a grading that fails or times out gets
its row with a status and a message. ``HW1_CELL_TIMEOUT`` and ``HW1_PHASE_TIMEOUT`` in the environment
reach the route (its limits per cell and for the notebook, 240 s and 420 s by default), and so do its other
limits (``HW1_STUDENT_MEMORY_MB``, ``HW1_TRUSTED_TIMEOUT``, ``HW1_TRUSTED_MEMORY_MB``) and ``HW1_SANDBOX=none`` /
``HW1_CGROUP=none``. Each student phase runs in the route's sandbox (bubblewrap's namespaces, a cgroup with one
CPU's quota); where bubblewrap cannot make it, the batch grades one at a time (``--jobs 1``) or not at all.

**What it writes** in OUT:

* ``OUT/<submission>/``: ``results.json`` (Gradescope's results, as the route wrote them) and
  ``results.pkl`` (Otter's GradingResults) when the route made a verdict, ``grading.log`` (the route's
  output and the bulk grader's last word), and ``grading.json`` (status, message, seconds, the upload's
  SHA-256, the autograder's id, the submitters);
* ``OUT/final_grades.csv``, in the layout of ``otter grade`` 7.0.0's CSV (built by Otter's own
  ``otter.grade.utils.merge_scores_to_df`` from the route's ``results.pkl``, as ``otter grade``'s host
  does), with one column added, ``flag``, and three more for a Gradescope export::

      file,q1a,q1b,q2a,...,q5_4,total_points_earned,percent_correct,grading_status,flag[,name,sid,email]
      points-per-question,2,2,3,...,6,73,1.0,--,--[,,,]
      alice.ipynb,2,0,3,...,6,57,0.7808,Completed,[,...]

  - ``file``: the submission's key: the upload's file name (as ``otter grade`` writes it) or the
    Gradescope submission folder;
  - one column per autograded question, in sorted order (Otter sorts them), with its points;
  - ``total_points_earned``; ``percent_correct``, the total over the points possible rounded to 4
    digits; ``grading_status``: ``Completed`` when the route graded the upload, otherwise one of
    ``Rejected: <sentence>`` (the route refused the upload and gave it 0: empty, not a notebook, a
    broken zip...; the sentence is the one the student sees), ``Timeout: <message>``, ``Failed:
    <message>`` (the route made no verdict), ``Not graded: <message>`` (the batch was interrupted).
    A row that is not ``Completed`` has 0 in every question, as in ``otter grade``;
  - the first row, ``points-per-question``: each question's points, the points possible, 1.0, ``--``;
    then the submissions, sorted by ``file`` (Otter's order);
  - ``flag``: the route's integrity flags (``extra_data.flags``, e.g. training on the test set),
    joined by `` | ``; empty when there are none (``--`` on the points row);
  - ``name``, ``sid``, ``email``: only for a Gradescope export, the submitters from its metadata.
* ``OUT/report.html``: the class report, one self-contained page: statuses, the score
  distribution, each question's mean and full-marks rate, the hardest question (the lowest mean share
  of its points, then the lowest full-marks rate), the most frequent failure messages per question,
  the most frequent grading notes, and the flagged submissions.

**Resume.** A rerun grades only what is new or changed: a submission is skipped when its
``grading.json`` records the same upload (SHA-256 of its bytes; of its files for a folder) and the
same autograder (the zip's ``AUTOGRADER_ID`` stamp, which every result also carries), with a status
Completed, Rejected or Timeout (unless ``--timeout`` is now longer); Failed and Not graded rows are retried. ``--regrade NAME`` (repeatable)
regrades the submissions whose key, key without extension, or submitter name, SID or email is NAME;
``--force`` regrades all. The CSV and the report are rewritten from every row each time.

OUT is made root's only (mode 0700): it holds every student's results, and the students' notebooks,
graded on this machine, read whatever is open to other users. The exit status is 0, or 2 when a row
Failed or was not graded (the CSV and the report are written in either case), 130 when interrupted.
"""

import argparse
import collections
import datetime
import fcntl
import hashlib
import html
import json
import math
import os
import pathlib
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from build_release import ROOT, STAMP, ZIP_NAME  # noqa: E402
import gradescope  # noqa: E402
import similarity  # noqa: E402
from submissions import IDENTITY, METADATA, Submission, find_submissions, upload_hash  # noqa: E402

RELEASE_ZIP = ROOT / "autograder" / ZIP_NAME
DEFAULT_TIMEOUT = 600  # s: above the route's own limits (inputs, 420 s for the notebook, the verdict)
GB_PER_GRADING = 1.5  # measured peaks: about 1 GB for the student phase, 0.9 GB for the verdict
USER_BASE = "hw1grade"
LOCKS = pathlib.Path("/run/hw1-grade")
ROUTE_KNOBS = ("HW1_CELL_TIMEOUT", "HW1_PHASE_TIMEOUT", "HW1_STUDENT_MEMORY_MB", "HW1_TRUSTED_TIMEOUT", "HW1_TRUSTED_MEMORY_MB",
               "HW1_SANDBOX", "HW1_CGROUP")

COMPLETED, REJECTED, TIMEOUT, FAILED, NOT_GRADED = "Completed", "Rejected", "Timeout", "Failed", "Not graded"
KEPT = (COMPLETED, REJECTED, TIMEOUT)  # statuses a rerun keeps; the others are retried
CSV_NAME, REPORT_NAME, RECORD, LOG = "final_grades.csv", "report.html", "grading.json", "grading.log"


@dataclass
class Row:
    submission: Submission
    status: str
    message: str = ""
    result: gradescope.Result = None
    seconds: float = 0.0
    graded_now: bool = False

    @property
    def key(self):
        return self.submission.key

    @property
    def grading_status(self):
        return self.status if self.status == COMPLETED else f"{self.status}: {self.message}"


def autograder_id(zip_path):
    """The zip's own identity (its AUTOGRADER_ID stamp, a SHA-256 over its entries); the file's hash without one."""
    with zipfile.ZipFile(zip_path) as z:
        if STAMP in z.namelist():
            return z.read(STAMP).decode().strip()
    return hashlib.sha256(pathlib.Path(zip_path).read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------
# One grading
# ------------------------------------------------------------------------------------------------

def classify(result, ag_id):
    """(status, message) of a grading that produced results.json."""
    stamp = result.raw.get("extra_data", {}).get("autograder")
    if stamp != ag_id:
        return FAILED, f"the results carry autograder {str(stamp)[:12]}, not the zip's {ag_id[:12]}"
    reasons = set()
    for question, test in result.tests.items():
        found = re.search(r"^    not graded: (.*)$", test.get("output", ""), re.M)
        if test["score"] or not found:
            return COMPLETED, ""
        reasons.add(found.group(1))
    reason = sorted(reasons)[0] if reasons else "not graded"
    if reason.startswith("The autograder could not prepare"):
        return FAILED, reason  # the grader's datasets, not the student's upload
    return REJECTED, reason


def _one_line(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def grade_one(submission, out_dir, autograder_zip, ag_id, user, cpu, timeout, extra_env=None, private_tmp=True):
    """Grades one upload through the route and never raises: returns its Row.

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
    result, trailer = None, ""
    try:
        try:
            result = gradescope.grade(submission.path, graded, autograder_zip, user=user, cpus=cpu, extra_env=env,
                                      timeout=timeout)
            status, message = classify(result, ag_id)
            if status in (COMPLETED, REJECTED) and not (graded / "autograder" / "results" / "results.pkl").exists():
                status, message = FAILED, "the route wrote results.json but no results.pkl"
        except subprocess.TimeoutExpired:
            status, message = TIMEOUT, (f"grading was stopped after {timeout:g} s, the time limit per submission "
                                        f"(its notebook may never end)")
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


def keep(out_dir, submission, digest, graded, status, message, seconds, ag_id, user, env, timeout, trailer=""):
    """Writes the submission's folder anew (built aside, then swapped in)."""
    out_dir = pathlib.Path(out_dir)
    fresh = out_dir.with_name(f".{out_dir.name}.new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    if status in (COMPLETED, REJECTED):
        shutil.copy(graded / "results.json", fresh / "results.json")
        pkl = graded / "autograder" / "results" / "results.pkl"
        if pkl.exists():
            shutil.copy(pkl, fresh / "results.pkl")
    log = graded / "run_autograder.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    text += f"\n--- bulk grader: {status}{': ' + message if message else ''} ({seconds:.1f} s, user {gradescope.sandbox_user(user)})\n"
    (fresh / LOG).write_text(text + trailer)
    record = {"submission": submission.key, "upload": str(submission.path), "upload_sha256": digest,
              "autograder": ag_id, "status": status, "message": message, "seconds": round(seconds, 1),
              "graded_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "identity": submission.identity, "timeout": timeout,
              "route_env": {k: v for k, v in env.items() if k in ROUTE_KNOBS}}
    (fresh / RECORD).write_text(json.dumps(record, indent=2))
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    fresh.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def upload_hash_or_none(path):
    try:
        return upload_hash(path)
    except OSError:
        return None


# ------------------------------------------------------------------------------------------------
# Many gradings: workers, users, resume
# ------------------------------------------------------------------------------------------------

def default_jobs():
    """One grading per CPU this process may use (its cgroup quota too), as memory allows (1.5 GB each)."""
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = pathlib.Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    try:
        available = int(re.search(r"MemAvailable:\s+(\d+) kB", pathlib.Path("/proc/meminfo").read_text()).group(1))
        cpus = min(cpus, int(available / 2**20 / GB_PER_GRADING))
    except (OSError, AttributeError):
        pass
    return max(1, cpus)


def claim_users(count, base=USER_BASE):
    """``count`` sandbox user names no other batch on this machine is using, each held by a lock until exit."""
    LOCKS.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(LOCKS)
    if not os.path.isdir(LOCKS) or os.path.islink(LOCKS) or info.st_uid != 0:
        raise SystemExit(f"{LOCKS} must be a folder of root's")
    users, k = [], 0
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
            raise SystemExit("no free sandbox user: too many batches are grading on this machine")
    return users


def sandboxed(extra_env=None):
    """Whether the route will run each student phase in its namespaces (bubblewrap), as root here."""
    if os.geteuid() != 0:
        return False
    sandbox = gradescope._sandbox_module()
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


def run_pool(submissions, autograder_zip, ag_id, jobs, timeout, out=None, extra_env=None, on_done=None,
             user_base=USER_BASE, private_tmp=True, stop=None, on_tick=None):
    """Grades ``submissions`` ``jobs`` at a time; calls ``on_done(row)`` as each ends (and ``on_tick()`` every
    second meanwhile); returns {key: Row}."""
    if not submissions:
        return {}
    jobs = max(1, min(jobs, len(submissions)))
    if jobs > 1 and os.geteuid() == 0 and not sandboxed(extra_env):
        raise SystemExit("gradings run side by side only in the route's sandbox (bubblewrap's namespaces), which is "
                         "not available here: install bubblewrap (apt-get install bubblewrap), or grade one at a time "
                         "(JOBS=1)")
    cpus = sorted(os.sched_getaffinity(0))
    if os.geteuid() == 0:
        gradescope.place_data()  # once, before the workers: they would race to build it
    users = claim_users(jobs, user_base)
    todo, finished = queue.Queue(), queue.Queue()
    for submission in submissions:
        todo.put(submission)
    stop = stop or threading.Event()

    def worker(k, user):
        while not stop.is_set():
            try:
                submission = todo.get_nowait()
            except queue.Empty:
                return
            out_dir = None if out is None else pathlib.Path(out) / submission.key
            finished.put(grade_one(submission, out_dir, autograder_zip, ag_id, user, str(cpus[k % len(cpus)]), timeout,
                                   extra_env, private_tmp))

    threads = [threading.Thread(target=worker, args=(k, user), daemon=True) for k, (user, _) in enumerate(users)]
    for t in threads:
        t.start()
    rows = {}
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
            if stop.is_set():
                continue  # an interrupted grading: no row, a rerun grades it
            rows[row.key] = row
            if on_done:
                on_done(row)
    except BaseException:
        stop.set()
        gradescope.stop_running()
        for t in threads:
            t.join(timeout=30)
        raise
    finally:
        for _, fd in users:
            os.close(fd)
    return rows


def stored_row(submission, out_dir, ag_id, digest, timeout):
    """The row of an earlier grading of the same upload with the same autograder, or None.

    A time-out is kept unless the time limit is now longer."""
    try:
        record = json.loads((out_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None
    if record.get("upload_sha256") != digest or record.get("autograder") != ag_id or record.get("status") not in KEPT:
        return None
    if record["status"] == TIMEOUT and timeout > record.get("timeout", 0):
        return None
    result = None
    if record["status"] in (COMPLETED, REJECTED):
        try:
            result = gradescope.Result(json.loads((out_dir / "results.json").read_text()))
        except (OSError, ValueError, KeyError):
            return None
        if result.raw.get("extra_data", {}).get("autograder") != ag_id or not (out_dir / "results.pkl").exists():
            return None
    return Row(submission, record["status"], record.get("message", ""), result, record.get("seconds", 0.0), False)


def select_regrades(submissions, names):
    """The keys that ``--regrade NAME`` names: key, key without extension, or a submitter's name, SID or email."""
    chosen = set()
    for name in names:
        wanted = name.strip().lower()
        hits = {s.key for s in submissions
                if wanted in {s.key.lower(), pathlib.PurePath(s.key).stem.lower()}
                or any(wanted in [part.strip().lower() for part in s.identity.get(k, "").split(";")] for k in IDENTITY)}
        if not hits:
            keys = ", ".join(s.key for s in submissions[:10]) + (" ..." if len(submissions) > 10 else "")
            raise SystemExit(f"--regrade {name}: no submission is called that (submissions: {keys})")
        chosen |= hits
    return chosen


# ------------------------------------------------------------------------------------------------
# Progress
# ------------------------------------------------------------------------------------------------

def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """A bar with the count done and the time left on a terminal; one line per submission otherwise."""

    def __init__(self, total, jobs, stream=sys.stdout):
        self.total, self.jobs, self.stream = total, max(1, jobs), stream
        self.done, self.durations, self.started = 0, [], time.monotonic()
        self.estimate, self.estimated_at = None, self.started  # seconds left, as of the last finished grading
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.width = shutil.get_terminal_size((100, 20)).columns
        self.lock = threading.Lock()

    def eta(self):
        """Time left: the mean grading time for each round of ``jobs`` gradings still to come, counting down."""
        if self.done >= self.total:
            return "done"
        if self.estimate is None:
            return "time left: estimating"
        left = self.estimate - (time.monotonic() - self.estimated_at)
        return f"time left ~{_duration(left)}" if left >= 1 else "time left: longer than estimated"

    def bar(self):
        cells = 30
        filled = int(cells * self.done / self.total) if self.total else cells
        return f"[{'#' * filled}{'.' * (cells - filled)}] {self.done}/{self.total} graded, {self.eta()}"

    def start(self):
        if self.tty and self.total:
            self.stream.write(self.bar()[: self.width - 1])
            self.stream.flush()

    def update(self, row):
        with self.lock:
            self.done += 1
            if row.graded_now:  # refused uploads and failures take seconds: they would make the estimate too short
                self.durations.append((row.status in (COMPLETED, TIMEOUT), row.seconds))
            typical = [s for full, s in self.durations if full] or [s for _, s in self.durations]
            if typical:
                self.estimate = math.ceil((self.total - self.done) / self.jobs) * statistics.mean(typical)
                self.estimated_at = time.monotonic()
            score = f"{row.result.total:g}/{row.result.possible:g}" if row.result is not None and row.status == COMPLETED else "-"
            how = f"{row.seconds:.0f} s" if row.graded_now else "kept from an earlier run"
            status = row.grading_status if len(row.grading_status) < 90 else row.grading_status[:87] + "..."
            line = f"[{self.done:>{len(str(self.total))}}/{self.total}] {row.key}: {status}, {score} ({how})"
            if self.tty:
                self.stream.write("\r\033[K" + line + "\n" + self.bar()[: self.width - 1])
            else:
                self.stream.write(f"{line}; {self.eta()}\n")
            self.stream.flush()

    def tick(self):
        """Redraws the bar (on a terminal) so that the time left counts down between gradings."""
        if self.tty and self.total:
            with self.lock:
                self.stream.write("\r\033[K" + self.bar()[: self.width - 1])
                self.stream.flush()

    def finish(self):
        if self.tty and self.total:
            self.stream.write("\n")
        self.stream.write(f"{self.done} submissions in {_duration(time.monotonic() - self.started)}\n")
        self.stream.flush()


# ------------------------------------------------------------------------------------------------
# final_grades.csv
# ------------------------------------------------------------------------------------------------

def grades_frame(rows, out, gradescope_export=False):
    """otter grade's table (its own merge_scores_to_df on the route's results.pkl) plus flag and identity."""
    import dill
    from otter.grade.utils import POINTS_POSSIBLE_LABEL, SCORES_DICT_FILE_KEY, SCORES_DICT_GRADING_STATUS_KEY, merge_scores_to_df
    from otter.test_files import GradingResults

    scores = []
    for row in rows:
        graded = None
        if row.status in (COMPLETED, REJECTED):
            with open(pathlib.Path(out) / row.key / "results.pkl", "rb") as f:
                graded = dill.load(f)
        else:
            graded = GradingResults.without_results(Exception(row.grading_status))
        graded.file = row.key
        scores.append(graded)
    frame = merge_scores_to_df(scores)
    by_key = {row.key: row for row in rows}
    points_row = frame[SCORES_DICT_FILE_KEY] == POINTS_POSSIBLE_LABEL

    def column(value, points_value):
        return [points_value if is_points else value(by_key[key]) for key, is_points in zip(frame[SCORES_DICT_FILE_KEY], points_row)]

    # a rejected upload has a verdict (all 0) in results.pkl, which Otter would call Completed
    frame[SCORES_DICT_GRADING_STATUS_KEY] = column(lambda r: r.grading_status, "--")
    frame["flag"] = column(lambda r: " | ".join(r.result.flags) if r.result is not None else "", "--")
    if gradescope_export:
        for name in IDENTITY:
            frame[name] = column(lambda r, n=name: r.submission.identity.get(n, ""), "")
    return frame


def write_csv(rows, out, gradescope_export=False):
    path = pathlib.Path(out) / CSV_NAME
    grades_frame(rows, out, gradescope_export).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------------------------------
# report.html
# ------------------------------------------------------------------------------------------------

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
# the student's text inside a message, as the verdict quotes it: "..." (quoted from your submission)
QUOTED = re.compile(r'"[^"]*" \(quoted from your submission\)')
STUDENT_PART = '"..." (quoted from your submission)'


def template(message):
    """A grader's message as its template: the student's quoted text and the numbers masked, so that
    the report counts the grader's own messages and shows none of the students' text."""
    return NUMBER.sub("#", QUOTED.sub(STUDENT_PART, message))


def failures(output):
    """[(check, message)] of one question's output: each ``failed (0/N): check`` and its indented message."""
    found, current = [], None
    for line in output.splitlines():
        if line.startswith("failed ("):
            current = [line.split("): ", 1)[-1].strip(), []]
            found.append(current)
        elif line.startswith("passed ("):
            current = None
        elif current is not None and line.startswith("    "):
            current[1].append(line.strip())
    return [(check, " ".join(message)) for check, message in found]


def class_statistics(rows):
    """What the report shows, from the rows: per question, the graded submissions' scores and failures."""
    graded = [r for r in rows if r.status == COMPLETED and r.result is not None]
    questions = sorted({q for r in graded for q in r.result.tests})
    per_question = {}
    for q in questions:
        scores = [(r.result.scores[q], r.result.max_scores[q]) for r in graded if q in r.result.tests]
        points = max(m for _, m in scores)
        failed = collections.defaultdict(set)  # check -> submissions that failed it
        messages = collections.defaultdict(collections.Counter)  # check -> message with numbers masked -> count
        examples = {}
        for r in graded:
            if q in r.result.tests:
                for check, message in failures(r.result.output(q)):
                    failed[check].add(r.key)
                    masked = template(message)
                    messages[check][masked] += 1
                    examples.setdefault((check, masked), QUOTED.sub(STUDENT_PART, message))
        top = sorted(failed, key=lambda check: (-len(failed[check]), check))
        per_question[q] = {
            "points": points, "n": len(scores),
            "mean": statistics.mean(s for s, _ in scores),
            "share": statistics.mean(s / m if m else 1.0 for s, m in scores),
            "full": sum(1 for s, m in scores if s >= m) / len(scores),
            "failures": [{"check": check, "count": len(failed[check]),
                          "messages": [(examples[(check, masked)], n) for masked, n in messages[check].most_common(3)]}
                         for check in top],
        }
    ranking = sorted(per_question, key=lambda q: (per_question[q]["share"], per_question[q]["full"], q))
    notes = collections.Counter()
    for r in graded:
        entry = next((t for t in r.result.raw["tests"] if t.get("name") == "Grading notes"), {})
        for line in entry.get("output", "").splitlines()[1:]:  # the first line is the autograder's id
            if line.strip():
                notes[template(line.strip())] += 1
    return {"graded": graded, "questions": per_question, "ranking": ranking, "notes": notes}


def _histogram_svg(totals, possible, bins=10):
    width, height, pad = 640, 220, 30
    counts = [0] * bins
    for t in totals:
        counts[min(bins - 1, int(bins * t / possible)) if possible else 0] += 1
    top = max(counts) or 1
    bar = (width - 2 * pad) / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="score distribution">']
    for i, c in enumerate(counts):
        h = (height - 2 * pad) * c / top
        x, y = pad + i * bar, height - pad - h
        lo, hi = possible * i / bins, possible * (i + 1) / bins
        parts.append(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar - 4:.1f}" height="{h:.1f}" fill="#4a78b5">'
                     f'<title>{lo:g}-{hi:g} points: {c}</title></rect>')
        if c:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="12">{c}</text>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - pad + 14:.1f}" text-anchor="middle" font-size="10">'
                     f'{lo:g}-{hi:g}</text>')
    parts.append(f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/></svg>')
    return "".join(parts)


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; } td.num { text-align: right; }
.bar { background: #e3e8ef; width: 160px; height: 0.9em; display: inline-block; }
.bar span { background: #4a78b5; height: 100%; display: block; }
tr.hardest td { background: #fde8e8 !important; } #hardest { font-size: 1.2em; padding: 0.6em 1em; background: #fde8e8; }
.muted { color: #666; font-size: 0.9em; } code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _bar(share):
    return f'<span class="bar"><span style="width:{100 * share:.0f}%"></span></span>'


def write_report(rows, out, ag_id, title="Deep Learning Fall 2023, HW1"):
    """OUT/report.html: one self-contained page (inline CSS and SVG, no external asset)."""
    e = html.escape
    stats = class_statistics(rows)
    qs, ranking = stats["questions"], stats["ranking"]
    statuses = collections.Counter(r.status for r in rows)
    possible = max((r.result.possible for r in stats["graded"]), default=0)
    totals = [r.result.total if r.status == COMPLETED and r.result is not None else 0 for r in rows]
    flagged = [r for r in rows if r.result is not None and r.result.flags]
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}: class report</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>{e(title)}: class report</h1>",
             f'<p class="muted">{len(rows)} submissions; autograder <code>{e(ag_id[:12])}</code>; written '
             f'{e(datetime.datetime.now().astimezone().isoformat(timespec="minutes"))} by tools/bulk_grade.py. '
             f"Question statistics count the {len(stats['graded'])} submissions the route graded (status Completed).</p>"]
    if (pathlib.Path(out) / similarity.HTML_NAME).exists():
        parts.append(f'<p id="similarity">Code similarity: <a href="{similarity.HTML_NAME}">{similarity.HTML_NAME}</a> ranks '
                     "the most similar pairs of submissions, side by side: a reason to look, never a verdict.</p>")
    if ranking:
        h = qs[ranking[0]]
        tied = [q for q in ranking if (qs[q]["share"], qs[q]["full"]) == (h["share"], h["full"])]
        names = ", ".join(f'<strong class="question">{e(q)}</strong>' for q in tied)
        rest = [q for q in ranking if q not in tied][:2]
        parts.append(f'<p id="hardest">Hardest question{"s (tied)" if len(tied) > 1 else ""}: {names} '
                     f"(mean {h['mean']:.2f} of {h['points']:g} points, {100 * h['share']:.0f}% of its points; "
                     f"{100 * h['full']:.0f}% of the graded submissions got full marks)."
                     + (" Next: " + ", ".join(f"{e(q)} ({100 * qs[q]['share']:.0f}% of its points)" for q in rest) + "." if rest else "")
                     + '<br><span class="muted">Ranked by the mean share of a question\'s points, then by the share of '
                     "submissions with full marks.</span></p>")
    else:
        parts.append('<p id="hardest">No submission was graded: no question statistics.</p>')

    parts.append("<h2>Statuses</h2><table><tr><th>status</th><th>submissions</th></tr>")
    for status in (COMPLETED, REJECTED, TIMEOUT, FAILED, NOT_GRADED):
        if statuses.get(status):
            parts.append(f'<tr><td>{status}</td><td class="num">{statuses[status]}</td></tr>')
    parts.append(f'<tr><td>flagged (integrity)</td><td class="num">{len(flagged)}</td></tr></table>')
    problems = [r for r in rows if r.status != COMPLETED]
    if problems:
        parts.append("<table><tr><th>submission</th><th>status</th></tr>"
                     + "".join(f"<tr><td>{e(r.key)}</td><td>{e(r.grading_status)}</td></tr>" for r in problems)
                     + "</table>")

    parts.append("<h2>Score distribution</h2>")
    if totals and possible:
        parts.append(f"<p>Total autograded points of every row of final_grades.csv (not Completed: 0), out of {possible:g}: "
                     f"mean {statistics.mean(totals):.1f}, median {statistics.median(totals):g}, "
                     f"min {min(totals):g}, max {max(totals):g}.</p>" + _histogram_svg(totals, possible))
    else:
        parts.append("<p>No scores.</p>")

    parts.append("<h2>Questions</h2><table><tr><th>question</th><th>points</th><th>mean</th><th>share of points</th>"
                 "<th>full marks</th><th>rank (1 = hardest)</th></tr>")
    for q in sorted(qs):
        s = qs[q]
        cls = ' class="hardest"' if ranking and (s["share"], s["full"]) == (qs[ranking[0]]["share"], qs[ranking[0]]["full"]) else ""
        parts.append(f"<tr{cls}><td>{e(q)}</td><td class=\"num\">{s['points']:g}</td><td class=\"num\">{s['mean']:.2f}</td>"
                     f"<td>{_bar(s['share'])} {100 * s['share']:.0f}%</td><td>{_bar(s['full'])} {100 * s['full']:.0f}%</td>"
                     f"<td class=\"num\">{ranking.index(q) + 1}</td></tr>")
    parts.append("</table>")

    parts.append("<h2>Most frequent failures, hardest question first</h2>"
                 f"<p class=\"muted\">Per question, the checks failed most often (by how many of the {len(stats['graded'])} "
                 "graded submissions failed them) and their most frequent messages (an example of each; messages that "
                 "differ only in numbers count as one).</p>")
    for q in ranking:
        top = qs[q]["failures"][:4]
        if not top:
            continue
        parts.append(f"<h3>{e(q)} <span class=\"muted\">({100 * qs[q]['full']:.0f}% full marks)</span></h3>"
                     f'<table class="failures"><tr><th>submissions</th><th>failed check</th><th>messages</th></tr>')
        for f in top:
            listed = "<br>".join(f"{e(m)} <span class=\"muted\">({n})</span>" for m, n in f["messages"])
            parts.append(f"<tr><td class=\"num\">{f['count']}</td><td>{e(f['check'])}</td><td>{listed}</td></tr>")
        parts.append("</table>")

    if stats["notes"]:
        parts.append("<h2>Most frequent grading notes</h2><table><tr><th>submissions</th><th>note (numbers as #)</th></tr>")
        for note, count in stats["notes"].most_common(8):
            parts.append(f"<tr><td class=\"num\">{count}</td><td>{e(note)}</td></tr>")
        parts.append("</table>")
    if flagged:
        parts.append("<h2>Integrity flags</h2><table><tr><th>submission</th><th>flags</th></tr>"
                     + "".join(f"<tr><td>{e(r.key)}</td><td>{e(' | '.join(r.result.flags))}</td></tr>" for r in flagged)
                     + "</table>")
    parts.append("</body></html>\n")
    path = pathlib.Path(out) / REPORT_NAME
    path.write_text("\n".join(parts))
    return path


# ------------------------------------------------------------------------------------------------
# The command
# ------------------------------------------------------------------------------------------------

def check_environment():
    """The sandbox user runs this interpreter: every folder on its way must be open to others."""
    exe = pathlib.Path(sys.executable)
    paths = {exe, exe.resolve(), *exe.parents, *exe.resolve().parents, pathlib.Path(sys.prefix) / "lib",
             *(pathlib.Path(sys.prefix) / "lib").parents}
    for folder in sorted(paths):
        if folder.exists() and not os.stat(folder).st_mode & 0o001:
            raise SystemExit(f"the environment {sys.prefix} cannot be run by the sandbox user ({folder} is closed to "
                             f"other users): use one outside /root, e.g. make grade VENV=/opt/hw1-venv ...")


def write_similarity(folder, out, stream):
    """OUT/similarity.html beside the grades (tools/similarity.py); a failure there costs the grades nothing."""
    try:
        path, _ = similarity.similarity_report(folder, out)
        return path
    except Exception as error:  # the grades are written; the comparison is a separate, optional read
        stream.write(f"warning: no code-similarity report ({type(error).__name__}: {error}); "
                     f"run make similarity SUBMISSIONS={folder} OUT={out} to try again\n")
        return None


def grade_batch(folder, out, autograder_zip=RELEASE_ZIP, jobs=None, timeout=DEFAULT_TIMEOUT, regrade=(), force=False,
                extra_env=None, stream=sys.stdout):
    """The whole command: grades what is new, writes OUT/<submission>/, final_grades.csv and report.html.

    Returns (rows in key order, whether the folder was a Gradescope export)."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)  # every student's results: the sandbox users read whatever is open to others
    if os.stat(folder).st_mode & 0o005:
        stream.write(f"warning: {folder} is open to other users, and so to the students' notebooks while they are "
                     f"graded (chmod 700 {folder})\n")
    lock = open(out / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"another grading is writing to {out}") from None
    try:
        submissions, ignored, export = find_submissions(folder, exclude=[out])
        if not submissions:
            inner = sorted(str(m.parent) for m in pathlib.Path(folder).glob(f"*/{METADATA}"))
            hint = f"; Gradescope's export is in {inner[0]}: grade that folder" if inner else ""
            raise SystemExit(f"no submissions in {folder}: expected *.ipynb or *.zip files, or Gradescope's export "
                             f"({METADATA} beside a folder per submission){hint}")
        if ignored:
            stream.write(f"ignored (not an upload): {', '.join(ignored)}\n")
        ag_id = autograder_id(autograder_zip)
        chosen = select_regrades(submissions, regrade) if regrade else set()
        rows, todo = {}, []
        for s in submissions:
            kept = None if force or s.key in chosen else stored_row(s, out / s.key, ag_id, upload_hash_or_none(s.path), timeout)
            if kept is not None:
                rows[s.key] = kept
            else:
                todo.append(s)
        jobs = jobs or default_jobs()
        stream.write(f"{len(submissions)} submissions{' (Gradescope export)' if export else ''}: {len(todo)} to grade, "
                     f"{len(rows)} kept from earlier runs; {min(jobs, max(1, len(todo)))} at a time, at most "
                     f"{_duration(timeout)} each; autograder {ag_id[:12]}\n")
        progress = Progress(len(submissions), min(jobs, max(1, len(todo))), stream)
        progress.start()
        for s in submissions:
            if s.key in rows:
                progress.update(rows[s.key])
        interrupted = False

        def done(row):
            rows[row.key] = row
            progress.update(row)

        if todo:
            try:
                run_pool(todo, autograder_zip, ag_id, jobs, timeout, out, extra_env, done, on_tick=progress.tick)
            except KeyboardInterrupt:
                interrupted = True
        for s in submissions:
            if s.key not in rows:
                rows[s.key] = Row(s, NOT_GRADED, "the run was interrupted or stopped first; rerun the same command to grade it")
        progress.finish()
        ordered = [rows[s.key] for s in submissions]
        csv_path = write_csv(ordered, out, export)
        similar = write_similarity(folder, out, stream)
        report = write_report(ordered, out, ag_id)
        counts = collections.Counter(r.status for r in ordered)
        stream.write(", ".join(f"{n} {status}" for status, n in counts.items())
                     + f"\nwrote {csv_path}, {report}{f' and {similar}' if similar else ''}\n")
        if interrupted:
            raise KeyboardInterrupt
        return ordered, export
    finally:
        lock.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=pathlib.Path, help="a folder of uploads, or Gradescope's export folder")
    parser.add_argument("out", type=pathlib.Path, help="where final_grades.csv, report.html and a folder per submission go")
    parser.add_argument("--zip", type=pathlib.Path, default=RELEASE_ZIP, help="the autograder zip (default: the release's)")
    parser.add_argument("--jobs", type=int, default=None, help=f"gradings at once (default here: {default_jobs()})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds for the whole grading of one upload")
    parser.add_argument("--regrade", action="append", default=[], metavar="NAME",
                        help="regrade this submission (key, key without extension, submitter name, SID or email)")
    parser.add_argument("--force", action="store_true", help="regrade every submission")
    args = parser.parse_args(argv)
    gradescope.require_root()
    check_environment()
    if not args.zip.exists():
        raise SystemExit(f"no autograder zip at {args.zip}")
    extra_env = {k: os.environ[k] for k in ROUTE_KNOBS if k in os.environ}

    def interrupt(signum, frame):  # a kill ends the batch as Ctrl-C does: the gradings under way are stopped
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    try:
        rows, _ = grade_batch(args.submissions, args.out, args.zip, args.jobs, args.timeout, args.regrade, args.force, extra_env)
    except KeyboardInterrupt:
        print("interrupted: the rows not graded say so; rerun the same command to go on", file=sys.stderr)
        return 130
    return 2 if any(r.status in (FAILED, NOT_GRADED) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
