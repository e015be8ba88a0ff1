"""A student can only hurt their own grade: every resource that gradings share has a limit that the student who
hits it pays for, root reads what a student wrote only within bounds, and a grader fault is never a grade.

The route tests grade real uploads through the built zip's run_autograder (side by side where it matters, on a
small filesystem that the test makes); the readers' fuzz and the sandbox's system calls are checked in-process.
"""

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import nbformat
import pytest

from tests.helpers import trusted_copy
from tests.test_route import QUICK, notebook
from tools.grade import gradebook, gradescope, pool
from tools.grade.submissions import Submission
from tools.trusted import settings, trusted_module

record = trusted_module("record")

handover, route, sandbox, verdict = (trusted_copy.module(m) for m in ("handover", "route", "sandbox", "verdict"))
MB = 2**20


@contextlib.contextmanager
def small_filesystem(size):
    """A tmpfs of ``size`` bytes that this process's temporary files (make grade's scratch folders: the route's
    work and sandbox folders) and the outputs live on, as a small disk shared by the gradings."""
    point = pathlib.Path(tempfile.mkdtemp(prefix="hw1-small-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0711", "hw1-small-disk", str(point)], check=True)
    saved = tempfile.tempdir
    tempfile.tempdir = str(point)
    try:
        yield point
    finally:
        tempfile.tempdir = saved
        subprocess.run(["umount", "-l", str(point)], check=False)
        point.rmdir()


# --- a neighbour that fills every place it can write --------------------------------------------------------

FILLER = r"""
import os, pathlib, time
def fill(folder):
    written = 0
    try:
        with open(os.path.join(folder, "filler.bin"), "wb") as f:
            block = b"\xff" * (4 << 20)
            while written < (8 << 30):
                f.write(block)
                f.flush()
                written += len(block)
    except OSError:
        pass
    return written
places = [os.getcwd(), os.environ["HOME"], os.environ["HW1_HANDOVER"], "/tmp", "/var/tmp", "/dev/shm"]
written = {p: fill(p) for p in places}
print({p: w >> 20 for p, w in written.items()})
time.sleep(40)  # held while the neighbour runs
for p in places:
    try:
        os.remove(os.path.join(p, "filler.bin"))
    except OSError:
        pass
l1_closed_form_exists = sum(written.values()) >= (1100 << 20)  # False, the right answer, only if the budget held
"""


@pytest.mark.route
def test_a_disk_filler_beside_a_correct_submission_costs_the_correct_one_nothing(fresh_release, fresh_zip):
    with small_filesystem(2 << 30) as disk:
        folder = disk / "uploads"
        folder.mkdir()
        nbformat.write(notebook(FILLER), folder / "filler.ipynb")
        solution = nbformat.read(fresh_release / "solutions" / "hw1.ipynb", as_version=4)
        nbformat.write(solution, folder / "correct.ipynb")
        submissions = [Submission(p.name, p) for p in sorted(folder.iterdir())]
        rows = pool.run_pool(
            submissions, fresh_zip, gradebook.autograder_id(fresh_zip), 2, 600, disk / "out", user_base="hw1fill"
        )
    correct, filler = rows["correct.ipynb"], rows["filler.ipynb"]
    assert correct.status == gradebook.COMPLETED, correct.grading_status
    assert correct.result.total == correct.result.possible, correct.result.failures()  # never Completed below full
    assert filler.status == gradebook.COMPLETED, filler.grading_status
    assert filler.result.scores["q2b"] == filler.result.max_scores["q2b"], "the filler wrote past its budget"


# --- what root copies and parses, and what reaches the grader's voice -------------------------------------------

HOSTILE = r"""
import json, os
folder = os.environ["HW1_HANDOVER"]
l1_closed_form_exists = False
block = b"x" * (1 << 20)
for i in range(300):  # a flood of 300 MB into the runner's output, the kernel's file descriptor 1: root keeps 1 MB
    os.write(1, block)
try:
    with open(os.path.join(folder, "q3a.json"), "wb") as f:  # past RLIMIT_FSIZE: refused by the kernel itself
        f.truncate(100 << 30)
except OSError as error:
    print("EFBIG" if error.errno == 27 else error)
with open(os.path.join(folder, "q5_4.json"), "wb") as f:  # a sparse file that claims 900 MB, within RLIMIT_FSIZE
    f.truncate(900 << 20)
with open(os.path.join(folder, "q5_1.npz"), "wb") as f:  # real data over q5_1's cap
    f.write(os.urandom(20 << 20))
with open(os.path.join(folder, "q5_1.json"), "w") as f:
    f.write("{}")
os.symlink("/etc/shadow", os.path.join(folder, "q1b.json"))
os.mkdir(os.path.join(folder, "q2a.json"))
for i in range(5000):
    open(os.path.join(folder, f"junk{i}.json"), "w").close()
deep = "[" * 30000 + "]" * 30000  # within the record's 64 KB: parsed, and too deep for json
with open(os.path.join(folder, "progress.json"), "w") as f:
    f.write(deep)
with open(os.path.join(folder, "phase_timings.json"), "wb") as f:
    f.write(b"\xff\xfe{\"started\": 1e999}")
# read-only: neither the probes that run after this cell nor the runner (the same user) can rewrite them
for name in ("progress.json", "phase_timings.json", "q5_4.json", "q5_1.npz", "q5_1.json"):
    os.chmod(os.path.join(folder, name), 0o444)
"""

CLAIMS = r"""
# 810877 of 810877 hidden tests passed
import json, os
folder = os.environ["HW1_HANDOVER"]
with open(os.path.join(folder, "progress.json"), "w") as f:
    json.dump({"cell": "# 810877 of 810877 hidden tests passed", "raised": 810877, "error": "810877",
               "timed_out": ["# 810877 of 810877 hidden tests passed"] * 3}, f)
with open(os.path.join(folder, "public_checks.json"), "w") as f:
    json.dump({"q1a": True, "q1b": False, "q2a": True}, f)
os.chmod(os.path.join(folder, "progress.json"), 0o444)  # the runner can no longer rewrite it
"""


@pytest.fixture(scope="module")
def hostile_results(fresh_zip, tmp_path_factory):
    """Two uploads graded side by side: one that floods, oversizes and crafts every record root reads; one whose
    records claim numbers. {name: (Result, the route's kept work folder)}."""
    folder = tmp_path_factory.mktemp("hostile")
    nbformat.write(notebook(HOSTILE), folder / "hostile.ipynb")
    nbformat.write(notebook("l1_closed_form_exists = False", CLAIMS), folder / "claims.ipynb")
    submissions = [Submission(p.name, p) for p in sorted(folder.iterdir())]
    env = {**QUICK, "HW1_KEEP_WORK": "1"}
    rows = pool.run_pool(
        submissions,
        fresh_zip,
        gradebook.autograder_id(fresh_zip),
        2,
        600,
        extra_env=env,
        user_base="hw1hostile",
        private_tmp=False,  # the route's work folders in /tmp, kept for the test to read
    )
    out = {}
    for key, row in rows.items():
        assert row.status == gradebook.COMPLETED, row.grading_status
        kept = next(line for line in row.result.log.splitlines() if line.startswith("trusted work folder kept: "))
        out[key.removesuffix(".ipynb")] = (row.result, pathlib.Path(kept.split(": ", 1)[1]))
    yield out
    for _, work in out.values():
        subprocess.run(["rm", "-rf", str(work)], check=False)


@pytest.mark.route
def test_root_copies_and_parses_only_within_the_caps(hostile_results):
    result, work = hostile_results["hostile"]
    copied = sum(p.stat().st_size for p in (work / "answers").iterdir())
    assert copied <= handover.TOTAL_CAP and result.raw["extra_data"]["handover"]["bytes_copied"] == copied
    kept = {p.name for p in (work / "answers").iterdir()}
    assert not any(name.startswith(("junk", "q5_4.", "q5_1.", "q1b.", "q2a.")) for name in kept), kept
    assert {"progress.json", "phase_timings.json"} <= kept, kept  # read, and found to be no record
    assert result.raw["extra_data"]["status"]["status"] == "completed"  # every question judged
    assert "larger than the grader accepts for it" in result.output("q5_1") and "refused unread" in result.output(
        "q5_1"
    )
    assert "larger than the grader accepts" in result.output("q5_4")
    assert "not a plain file written by your notebook" in result.output("q1b")
    assert "not a plain file written by your notebook" in result.output("q2a")
    log = (work / "student_phase.log").read_bytes()
    assert len(log) <= 2**20 + 200 and log.startswith(b"[") and b"earlier bytes of output dropped" in log[:200]


@pytest.mark.route
def test_crafted_records_get_a_result_in_the_graders_words(hostile_results):
    result, _ = hostile_results["hostile"]
    status = result.raw["extra_data"]["status"]
    assert (status["status"], status["reason"]) == ("completed", ""), status
    assert "1e999" not in result.visible and "record kept" not in result.visible


@pytest.mark.route
def test_numbers_that_records_claim_never_reach_the_visible_summary(hostile_results):
    result, _ = hostile_results["claims"]
    assert "810877" not in json.dumps([t for t in result.raw["tests"] if t.get("visibility") == "visible"])
    assert "passed: q1a" not in result.visible and "failed: q1b" not in result.visible
    # the one claim shown, labelled as the record's, names no cell and no count
    assert "record kept while your notebook ran" in result.visible


# --- a grader fault is never a grade ------------------------------------------------------------------------


@pytest.mark.route
def test_a_full_disk_on_roots_side_is_a_grader_fault_never_a_grade(fresh_release, fresh_zip, tmp_path):
    with small_filesystem(1 * MB) as tiny:  # the route's work folder cannot hold its inputs
        env = {**QUICK, "TMPDIR": str(tiny)}
        solution = fresh_release / "solutions" / "hw1.ipynb"
        result = gradescope.run_as_gradescope(solution, tmp_path / "out", fresh_zip, user="hw1fault", extra_env=env)
    assert result.raw["extra_data"]["status"]["status"] == "grader_fault", result.raw["extra_data"]
    results = tmp_path / "out" / "autograder" / "results"
    assert pool.classify(results, result, gradebook.autograder_id(fresh_zip))[0] == gradebook.FAILED  # retried
    graded = record.read(results)
    assert graded.status is record.Status.GRADER_FAULT and not any(q.judged for q in graded.questions), graded
    assert result.total == 0 and all("grader fault" in result.output(q) for q in result.tests)
    assert "nothing in your submission caused it" in result.output("q1a")


def test_classify_reads_the_record_never_the_prose(tmp_path):
    def classify(status, output="passed (2/2): x", stamp="abc", questions=("q1a",)):
        """The bulk grader's status of a grading whose results.json says ``output`` and carries ``status``."""
        results = {
            "tests": [{"name": q, "score": 0, "max_score": 2, "output": output} for q in questions],
            "extra_data": {"autograder": stamp, "status": status},
        }
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        try:  # as the route writes it: from results.json, every autograded question expected
            record.write(folder, record.from_results(results, ["q1a"], {"student": 1.0}, {"cell_cpu_seconds": 240}))
        except ValueError:
            pass  # no record: the grading counts as failed
        return pool.classify(folder, gradescope.Result(results), "abc")

    assert classify({"status": "completed", "reason": ""}, "    not graded: x")[0] == "Completed"
    refused = {"status": "rejected", "reason": "upload", "message": "the file is empty"}
    assert classify(refused, "    not graded: other words") == ("Rejected", "the file is empty")
    assert classify({"status": "grader_fault", "reason": "OSError"})[0] == "Failed"
    assert classify(None)[0] == "Failed"  # no status: never Completed
    assert classify({"status": "completed"}, stamp="another id")[0] == "Failed"
    # a verdict that leaves a question out is never Completed, whatever the other questions got
    assert classify({"status": "completed"}, questions=())[0:1] == ("Failed",)


def test_make_grade_sizes_its_jobs_by_every_limit_of_a_grading_and_the_containers_memory(monkeypatch, tmp_path):
    limit = tmp_path / "memory.max"
    limit.write_text(str(7 * 2**30))  # a container of 7 GB: one grading of 6 GB fits, two do not
    real = trusted_copy.module("sandbox")
    monkeypatch.setattr(pool, "trusted_module", lambda m: real if m == "sandbox" else trusted_copy.module(m))
    monkeypatch.setattr(real, "own_cgroup_files", lambda *names: [limit])
    assert pool.grading_memory_gb() == 6
    jobs, why = pool.choose_jobs()
    assert jobs == 1 and "7.0 GB (the container's limit) holds 1 grading of 6 GB" in why, why


# --- every reader of student-written data is total ---------------------------------------------------------

NASTY = {
    "deep": b"[" * 200000 + b"]" * 200000,
    "deep_object": b'{"a":' * 50000 + b"1" + b"}" * 50000,
    "huge_int": b'{"raised": ' + b"9" * 100000 + b"}",
    "huge_float": b'{"seconds": 1e999, "started": -1e999}',
    "nan": b'{"seconds": NaN, "timed_out": Infinity}',
    "wrong_types": b'{"timed_out": {"a": 1}, "cell": [1, 2], "seconds": "12"}',
    "a_list": b"[1, 2, 3]",
    "not_utf8": b'{"cell": "\xff\xfe\xfd"}',
    "utf16": '{"cell": "x"}'.encode("utf-16"),
    "truncated": b'{"cell": "x',
    "empty": b"",
    "nul": b"\x00" * 1000,
}


def nasty_folder(tmp_path):
    folder = tmp_path / "nasty"
    folder.mkdir()
    for name, data in NASTY.items():
        (folder / f"{name}.json").write_bytes(data)
    os.symlink("/etc/shadow", folder / "link.json")
    os.mkfifo(folder / "fifo.json")
    with open(folder / "sparse.json", "wb") as f:
        f.truncate(50 << 30)
    (folder / "unreadable.json").write_text("{}")
    (folder / "unreadable.json").chmod(0)
    (folder / "a_folder.json").mkdir()
    return folder


def test_every_record_reader_is_total(tmp_path):
    folder = nasty_folder(tmp_path)
    for path in folder.iterdir():
        record = handover.read_record(folder, path.name)
        assert isinstance(record, dict), path.name
        phase = route.phase_record(0, 1.0, record, {})  # the route's use of a record never raises either
        assert set(phase) >= {"ended", "seconds", "cell_timeouts_reported"}
        json.dumps(phase)  # and gives plain data
    (folder / "phase_timings.json").write_bytes(NASTY["huge_float"])
    assert route.reported_phase_timings(folder) == {}


def test_every_handover_reader_is_total(tmp_path):
    folder = nasty_folder(tmp_path)
    for path in list(folder.iterdir()):
        stem = path.name.removesuffix(".json")
        if path.is_file() and not path.is_symlink():
            (folder / f"{stem}.npz").write_bytes(path.read_bytes() if path.stat().st_size < 2**20 else b"PK\x03\x04")
        out = verdict.Context(None, folder.parent, folder).answers(stem)
        assert out is None or isinstance(out, dict), stem
        if isinstance(out, dict) and out.get("@unreadable"):
            assert "quoted" not in out["@refused"]
        verdict.answer_status(out)


def test_collection_of_nasty_files_is_bounded_and_total(tmp_path):
    folder = nasty_folder(tmp_path)
    questions = [p.name.removesuffix(".json") for p in folder.iterdir()]
    found = handover.collect(folder, tmp_path / "answers", None, questions)
    assert found.questions["link"] == found.questions["fifo"] == found.questions["a_folder"] == "kind"
    assert found.questions["sparse"] == "size"
    assert found.bytes <= handover.TOTAL_CAP
    assert found.bytes == sum(p.stat().st_size for p in (tmp_path / "answers").iterdir())


# --- the sandbox allows only the system calls a notebook needs ---------------------------------------------

SYSCALLS = r"""
import ctypes, os, threading, json
libc = ctypes.CDLL(None, use_errno=True)
def errno_of(result):
    return 0 if result != -1 else ctypes.get_errno()
found = {
    "unshare(CLONE_NEWUSER)": errno_of(libc.unshare(0x10000000)),
    "unshare(CLONE_NEWNS)": errno_of(libc.unshare(0x00020000)),
    "mount": errno_of(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
    "keyctl": errno_of(libc.syscall(250, 0, -3, 0, 0, 0)),  # KEYCTL_GET_KEYRING_ID: allowed to anyone unfiltered
    "bpf": errno_of(libc.syscall(321, 0, 0, 0)),
    "ptrace": errno_of(libc.ptrace(0, 0, 0, 0)),  # PTRACE_TRACEME: allowed to anyone unfiltered
}
t = threading.Thread(target=lambda: None); t.start(); t.join()  # threads (clone without namespace flags) work
pid = os.fork()  # and so does fork
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
found["threads and fork"] = 0
print(json.dumps(found))
"""


def test_the_sandbox_denies_new_namespaces_and_the_calls_a_notebook_never_needs(tmp_path):
    tools, why = sandbox.probe_namespaces(65534, 65534)
    if tools is None:
        if settings.REQUIRE_SANDBOX.is_set():
            pytest.fail(f"no namespaces: {why}")
        pytest.skip(f"no namespaces: {why}")
    program, why = sandbox.seccomp_program()
    assert program is not None, why
    (tmp_path / "filter.bpf").write_bytes(program)
    fd = os.open(tmp_path / "filter.bpf", os.O_RDONLY)
    tmp_path.chmod(0o755)
    try:
        argv = sandbox.namespace_argv(
            tools, str(tmp_path), sandbox.readonly_paths(sys.prefix, sys.base_prefix), 65534, 65534,
            [sys.executable, "-c", SYSCALLS], 2**20, None, fd,
        )  # fmt: skip
        run = subprocess.run(argv, capture_output=True, text=True, timeout=60, pass_fds=(fd,))
    finally:
        os.close(fd)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.strip().splitlines()[-1])
    eperm = 1
    assert found == {
        "unshare(CLONE_NEWUSER)": eperm,
        "unshare(CLONE_NEWNS)": eperm,
        "mount": eperm,
        "keyctl": eperm,
        "bpf": eperm,
        "ptrace": eperm,
        "threads and fork": 0,
    }, found
