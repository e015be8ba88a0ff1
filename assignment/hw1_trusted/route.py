"""Grades one submission in two phases; what Gradescope's ``run_autograder`` (and otter grade's) runs, as root.

1. The upload becomes one notebook, or a result that says what to upload instead.
2. A fresh trusted process draws the inputs from the secret seed.
3. Untrusted phase: Otter runs the notebook and the probes as an unprivileged user, in a
   folder of its own, with a time limit per cell and for the whole phase. It hands back
   plain data only. Where the platform allows, it runs in namespaces of its own (bubblewrap:
   it sees only the environment, the datasets and its folder; private /tmp and /dev/shm; a
   loopback of its own) and in a cgroup (CPU quota, memory, processes); where it does not,
   the log says that the grading relies on the platform's one container per submission.
4. Every process of that user is killed. The answers are copied out of its reach.
5. Trusted phase: a fresh ``python -I`` process makes every verdict and writes
   ``results.json`` (Gradescope) and ``results.pkl`` (otter grade), within a time and a memory limit.
"""

import json
import os
import pathlib
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from . import handover, policy, sandbox, settings, uploads

HERE = pathlib.Path(__file__).resolve().parent
CELL_TIMEOUT = settings.CELL_TIMEOUT.value()  # seconds per cell and per probe
PHASE_TIMEOUT = settings.PHASE_TIMEOUT.value()  # the student's whole notebook; the grading ends within 8 minutes
SANDBOX_USER = settings.SANDBOX_USER.value()
MB = 2**20
STUDENT_MEMORY = settings.STUDENT_MEMORY_MB.value() * MB  # the notebook, its kernel, its /tmp and /dev/shm
STUDENT_PROCESSES = 512
TRUSTED_MEMORY = settings.TRUSTED_MEMORY_MB.value() * MB  # the inputs and the verdict (about 0.9 GB each)
TRUSTED_TIMEOUT = settings.TRUSTED_TIMEOUT.value()  # seconds for the inputs, and for the verdict (7 and 14 s at half a CPU)


def cpu_quota():
    """CPUs this container may use: its cgroup's CPU quota (cgroup v2 or v1), else its affinity mask."""
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_limit()
    if quota is not None:
        cpus = min(cpus, max(1, int(quota)))
    return max(1, cpus)


def cgroup_cpu_limit():
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
                quota, period = (base / "cpu.cfs_quota_us").read_text().strip(), (base / "cpu.cfs_period_us").read_text().strip()
            else:
                continue
            if quota not in ("max", "-1"):
                return int(quota) / int(period)
        except (OSError, ValueError):
            continue
    return None


def thread_caps(threads):
    return {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", settings.THREADS.name)}


def trusted(*args):
    """Runs a trusted step in a fresh isolated interpreter, as root."""
    entry = HERE / "__main__.py"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8", **thread_caps(cpu_quota())}
    for name in (settings.DATA_ROOT.name,):
        if name in os.environ:
            env[name] = os.environ[name]
    return run_limited([sys.executable, "-I", str(entry), *map(str, args)], env, f"trusted-{args[0]}")


def run_limited(argv, env, name, timeout=None, memory=None):
    """Runs a trusted step with a time limit and a memory limit (a cgroup; without one, RLIMIT_AS, looser:
    it counts address space, and torch alone reserves 3.5 GB of it). Returns a CompletedProcess whose
    returncode is None when the step ran out of time."""
    timeout, memory = timeout or TRUSTED_TIMEOUT, memory or TRUSTED_MEMORY
    group, _ = sandbox.Cgroup.create(f"hw1-{SANDBOX_USER}-{os.getpid()}-{name}", memory=memory) if os.geteuid() == 0 else (None, "")

    def limit():
        if group is not None:
            group.join()
        else:
            resource.setrlimit(resource.RLIMIT_AS, (4 * memory + 4 * 2**30,) * 2)

    process = subprocess.Popen(argv, env=env, preexec_fn=limit, start_new_session=True)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
        print(f"hw1 limits: the {name} step ran over its {timeout} s and was stopped", flush=True)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    finally:
        if group is not None:
            used = group.stats()
            if used.get("oom_kills"):
                print(f"hw1 limits: the {name} step ran out of its {memory // MB} MB", flush=True)
            group.remove()
    return subprocess.CompletedProcess(argv, code)


def lock_down(ag):
    """The student's user may read or write nothing of the grader's."""
    for path, mode in ((ag / "source", 0o700), (ag / "results", 0o700), (ag / "submission", 0o700),
                       (ag / "submission_metadata.json", 0o600)):
        if path.exists():
            os.chmod(path, mode)


def build_sandbox(root, ag, nb, work):
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
    shutil.copy(HERE / "student_phase.py", root / "student_phase.py")


def collect_answers(handover_dir, answers, uid):
    """Copies the plain files of the hand-over folder; anything else (links, folders, huge files) is left.

    The folder is opened without following links and must belong to the sandbox user; each file is
    opened relative to it, again without following links, and must belong to that user too, so
    that no path the student controls can make root read anything else.
    """
    answers.mkdir()
    skipped = []
    try:
        folder = os.open(handover_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return ["the hand-over folder was replaced"]
    try:
        if uid is not None and os.fstat(folder).st_uid != uid:
            return ["the hand-over folder was replaced"]
        for name in sorted(os.listdir(folder))[:200]:
            if not name.endswith((".json", ".npz")) or "/" in name:
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
            except OSError:
                skipped.append(name)
                continue
            with os.fdopen(fd, "rb") as f:
                info = os.fstat(f.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > handover.MAX_BYTES or (uid is not None and info.st_uid != uid):
                    skipped.append(name)
                    continue
                (answers / name).write_bytes(f.read(handover.MAX_BYTES + 1)[:handover.MAX_BYTES])
    finally:
        os.close(folder)
    if not skipped:  # the names are the student's to choose: counted, never quoted
        return []
    many = len(skipped) > 1
    return [f"{len(skipped)} file{'s' if many else ''} of the hand-over folder could not be read as plain data "
            f"and {'were' if many else 'was'} ignored."]


def first_lines(nb):
    """The first line of each code cell of the submission, as the grader holds it."""
    lines = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            code = [l for l in cell.source.splitlines() if l.strip()]
            if code:
                lines.add(code[0][:120])
    return lines


def phase_notes(code, seconds, progress, killed, known_lines):
    """Notes for the student. The student phase reports cells by their first line; only a line that
    really starts a cell of the submission is quoted, cleaned and marked as the student's (the verdict labels it)."""
    def quoted(text):
        return handover.student_text(text, 80) if isinstance(text, str) and text in known_lines else ""

    notes = []
    died = bool(progress.get("error") or progress.get("cell"))
    timed_out = progress.get("timed_out") if isinstance(progress.get("timed_out"), list) else []
    progress = {"cell": quoted(progress.get("cell")), "error": progress.get("error"),
                "timed_out": [quoted(c) or "a cell" for c in timed_out[:3]]}
    if code is None:
        notes.append(f"Grading stopped your notebook after {PHASE_TIMEOUT} s, the time limit for the whole notebook"
                     + (f", in the cell that starts with: {progress.get('cell')}" if progress.get("cell") else "") + ".")
    elif died:
        notes.append("Your notebook's kernel died (os._exit, sys.exit in a check, a kill, or running out of memory)"
                     + (f" in the cell that starts with: {progress.get('cell')}" if progress.get("cell") else "")
                     + ". Questions whose answers were handed over before that are graded; the others score 0.")
    for cell in progress.get("timed_out", []):
        notes.append(f"A cell ran over the {CELL_TIMEOUT} s time limit per cell and was interrupted: {cell}")
    if killed:
        notes.append("Processes that your notebook left running were stopped when it ended.")
    return notes


def phase_record(code, seconds, progress):
    """How the student phase ended, for the verdict's visible summary: the route's own facts (exit, time),
    and from the student's progress only counts and whether the last cell finished."""
    died = bool(progress.get("error") or progress.get("cell"))
    timed_out, raised = progress.get("timed_out"), progress.get("raised")
    return {"ended": "time limit" if code is None else "kernel died" if died else "end", "seconds": round(seconds, 1),
            "timed_out": len(timed_out) if isinstance(timed_out, list) else 0,
            "raised": raised if isinstance(raised, int) and not isinstance(raised, bool) and 0 <= raised < 10**6 else 0,
            "phase_limit": PHASE_TIMEOUT, "cell_limit": CELL_TIMEOUT}


def record_verdict_time(results_dir, seconds):
    """Adds the trusted phase's own time to the results' extra data (instructors' eyes only)."""
    path = results_dir / "results.json"
    if path.exists():
        results = json.loads(path.read_text())
        results.setdefault("extra_data", {}).setdefault("timings", {})["verdict"] = round(seconds, 2)
        path.write_text(json.dumps(results, indent=2))


def record_extra(results_dir, key, value):
    """Adds ``value`` to the results' extra data (instructors' eyes only)."""
    path = results_dir / "results.json"
    if path.exists() and value:
        results = json.loads(path.read_text())
        results.setdefault("extra_data", {})[key] = value
        path.write_text(json.dumps(results, indent=2))


def student_sandbox(root, uid, gid):
    """(namespaces, cgroup, what they are) for the student phase, each where the platform gives it.

    Namespaces: bubblewrap (sandbox.namespace_argv). Limits: a cgroup with the grading's CPU quota (the
    CPUs this grading was given: its affinity, or its own cgroup's quota), a memory limit and a process
    limit. Neither is required: without them the route still grades, and says so in its log (the
    instructor's side: run_autograder's output), relying on the platform's one container per submission.
    """
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_limit()
    cpus = min(cpus, quota) if quota else cpus
    group, group_note = sandbox.Cgroup.create(f"hw1-{SANDBOX_USER}-{os.getpid()}", cpus=cpus, memory=STUDENT_MEMORY,
                                              pids=STUDENT_PROCESSES)
    tools, why = sandbox.probe_namespaces(uid, gid)
    isolation = {"namespaces": None, "cgroup": None}
    namespaces = None
    if tools is not None:
        data = settings.DATA_ROOT.value()
        readonly = sandbox.readonly_paths(sys.prefix, sys.base_prefix, sys.exec_prefix,
                                          str(pathlib.Path(sys.executable).resolve().parent.parent), data)

        def namespaces(argv):
            return sandbox.namespace_argv(tools, root, readonly, uid, gid, argv, STUDENT_MEMORY)

        isolation["namespaces"] = sandbox.bwrap_version(tools)
        print(f"hw1 isolation: the student phase runs in {isolation['namespaces']}: its own mount, PID, IPC, network "
              f"(loopback only) and UTS namespaces; it sees /usr, /etc, {', '.join(readonly)} read-only, its own folder, "
              f"and private, empty /tmp, /var/tmp and /dev/shm", flush=True)
    else:
        isolation["no_namespaces"] = why
        print(f"hw1 isolation: no namespaces ({why}): the student phase runs as {SANDBOX_USER} behind the route's "
              f"own locks; this grading relies on the platform's isolation of one container per submission", flush=True)
    if group is not None:
        isolation["cgroup"] = {"version": group.version, "cpus": round(cpus, 2), "memory_mb": STUDENT_MEMORY // MB,
                               "processes": STUDENT_PROCESSES}
        print(f"hw1 limits: {group_note}: {cpus:.2f} CPUs, {STUDENT_MEMORY // MB} MB of memory (no swap), "
              f"{STUDENT_PROCESSES} processes", flush=True)
    else:
        isolation["no_cgroup"] = group_note
        print(f"hw1 limits: {group_note}: only the process count is capped (RLIMIT_NPROC {STUDENT_PROCESSES}); "
              f"CPU and memory are the platform's", flush=True)
    return namespaces, group, isolation


def grade_upload(ag, results_dir):
    ag, results_dir = pathlib.Path(ag), pathlib.Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    isolate = os.geteuid() == 0
    if isolate:
        lock_down(ag)
    stamp = ag / "source" / "files" / "hw1_trusted" / "AUTOGRADER_ID"
    autograder_id = stamp.read_text().strip() if stamp.exists() else "unknown"
    work = pathlib.Path(tempfile.mkdtemp(prefix="hw1-trusted-"))  # root's, mode 0700
    notes = [f"Autograder {autograder_id[:12]}."]
    root = None
    try:
        try:
            nb = uploads.normalise(ag / "submission")
        except uploads.BadUpload as problem:
            (work / "notes.json").write_text(json.dumps(notes + [str(problem)]))
            trusted("reject", work, results_dir, autograder_id, str(problem))
            return
        clock = time.monotonic()
        if trusted("prepare", work).returncode != 0:
            (work / "notes.json").write_text(json.dumps(notes))
            trusted("reject", work, results_dir, autograder_id,
                    "The autograder could not prepare its inputs (its datasets are missing or corrupt). Please tell your instructor; your submission was not graded.")
            return

        root = pathlib.Path(tempfile.mkdtemp(prefix="hw1-sandbox-"))
        build_sandbox(root, ag, nb, work)
        uid = gid = None
        if isolate:
            uid, gid = sandbox.ensure_user(SANDBOX_USER)
            sandbox.kill_all(uid)  # nothing of an earlier grading may linger
            sandbox.remove_stale_cgroups(f"hw1-{SANDBOX_USER}-")
            # the folder stays root's, so that the student cannot swap its parts; the user owns only its own
            for part in ("ag", "home", "handover"):
                sandbox.chown_tree(root / part, uid, gid)
                os.chmod(root / part, 0o700)
            os.chmod(root, 0o711)
        env = {"PATH": f"{pathlib.Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(root / "home"), "LANG": "C.UTF-8",
               "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "HW1_HANDOVER": str(root / "handover"),
               "TMPDIR": str(root / "home"),
               "HW1_PROBE_INPUTS": str(root / "inputs"), "HW1_DATA_DIR": str(pathlib.Path(settings.DATA_ROOT.value())),
               **thread_caps(cpu_quota())}
        namespaces, group, isolation = student_sandbox(root, uid, gid) if isolate else (None, None, {})
        clock_student = time.monotonic()
        try:
            code, seconds = sandbox.run_as(uid, gid, [sys.executable, str(root / "student_phase.py"), str(root / "ag"),
                                                      str(root / "handover"), str(CELL_TIMEOUT)],
                                           env, root, PHASE_TIMEOUT, work / "student_phase.log", namespaces, group)
            killed = sandbox.kill_all(uid) if isolate else 0
            if group is not None:
                killed += group.kill()
            if namespaces is not None:  # what was left ended with its PID namespace, racing these kills: no note
                killed = 0
                isolation["used"] = used = group.stats()
                print(f"hw1 limits: the student phase used {used['cpu_seconds']} CPU s in {seconds:.1f} s, was throttled "
                      f"{used['throttled']} times, peaked at {used['memory_peak_mb']} MB, OOM kills: {used['oom_kills']}", flush=True)
        finally:
            if group is not None:
                group.remove()
        if isolate:
            sandbox.remove_files_of(uid)
        timings = {"prepare": round(clock_student - clock, 2), "student": round(seconds, 2)}
        notes_answers = collect_answers(root / "handover", work / "answers", uid)
        try:
            progress = json.loads((work / "answers" / "progress.json").read_text())
            progress = progress if isinstance(progress, dict) else {}
        except (OSError, ValueError):
            progress = {}
        notes += phase_notes(code, seconds, progress, killed, first_lines(nb)) + notes_answers
        (work / "notes.json").write_text(json.dumps(notes))
        clock = time.monotonic()
        (work / "timings.json").write_text(json.dumps(timings))
        (work / "phase.json").write_text(json.dumps(phase_record(code, seconds, progress)))
        if trusted("verdict", work, results_dir, autograder_id).returncode != 0:
            trusted("reject", work, results_dir, autograder_id,
                    f"The autograder could not finish its verdict within its limits ({TRUSTED_TIMEOUT} s, "
                    f"{TRUSTED_MEMORY // MB} MB). Please tell your instructor; your submission was not graded.")
        record_verdict_time(results_dir, time.monotonic() - clock)
        record_extra(results_dir, "isolation", isolation)
    finally:
        if root is not None:
            sandbox.remove(root)
        if settings.KEEP_WORK.is_set():
            print(f"trusted work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv):
    ag = pathlib.Path(argv[0]) if argv else pathlib.Path(settings.AUTOGRADER_DIR.value())
    grade_upload(ag, ag / "results")
