"""Each grading in a sandbox of its own, through the real route (bubblewrap's namespaces, a cgroup with limits).

Two gradings run at once through ``make grade``'s own pool (tools.grade.pool.run_pool: a sandbox user,
a scratch folder and a CPU each). One is honest: a quick notebook with a known score. The other attacks,
while it runs: it watches for the neighbour's files and reads what it finds, signals every process it
sees, connects to every listening socket it can find that is not its own (the neighbour's kernel),
spins on every CPU after undoing its pinning, fills memory and /dev/shm, leaves files in /tmp,
/var/tmp and /dev/shm and a detached process for a later grading, looks for a world-readable checkout
(its solutions, the zip, the secret seed; the checkout's path in any process's command line), and
plants a hand-over bomb (an .npz whose 1 MB member inflates to 1 GiB) for the root verdict. The honest
grading must keep its exact score; the attacker must find every door shut (its q2b answer is right only
then), lose the bombed question with a clear note, and leave nothing behind.

Then the fallbacks: without namespaces and without cgroups (forced) the route still grades, and says so
in its log only; ``make grade`` refuses to grade two at a time without its sandbox.
"""

import json
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import tempfile

import nbformat
import pytest

from tests.test_route import QUICK, SPY, crash_notebook, notebook
from tools import errors
from tools.build import master_notebook
from tools.build import release as build_release
from tools.grade import gradebook, gradescope, pool
from tools.grade.submissions import Submission
from tools.trusted import settings, trusted_module

ROOT = build_release.ROOT
POINTS = {q["name"]: q["points"] for q in master_notebook.questions() if not q["manual"]}
TOKEN = "isolation" + secrets.token_hex(4)  # names what the attacker leaves behind, so that it can be looked for
STUDENT_MB = 1536  # the memory limit of these gradings' student phases: the hog asks for far more


def sandbox_module():
    return trusted_module("sandbox")


def require_sandbox():
    """Skips, saying why, where the machine cannot give what the sandbox needs; CI (HW1_REQUIRE_SANDBOX=1) fails instead."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append("grading through the route needs root")
    else:
        module = sandbox_module()
        tools, why = module.probe_namespaces(65534, 65534)
        if tools is None:
            reasons.append(f"no namespaces: {why}")
        group, note = module.Cgroup.create(f"hw1-probe-{os.getpid()}", cpus=1, memory=2**30, pids=64)
        if group is None:
            reasons.append(note)
        else:
            group.remove()
    if reasons:
        if settings.REQUIRE_SANDBOX.is_set():
            pytest.fail("the sandbox cannot be built here: " + "; ".join(reasons))
        pytest.skip("; ".join(reasons))


ATTACK = r"""
import glob, os, pathlib, signal, socket, subprocess, sys, time
TOKEN, CHECKOUTS, SPIN = {token!r}, {checkouts!r}, 25
me, own = os.getuid(), os.path.realpath(os.getcwd())
doors = {{}}

def readable(path):
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False

# CPU: spinners on every CPU, their pinning undone, for the neighbour's whole notebook
SPINNER = ("import os, time\n"
           "os.sched_setaffinity(0, range(os.cpu_count()))\n"
           "end = time.time() + %d\n"
           "while time.time() < end: pass\n" % SPIN)
spinners = [subprocess.Popen([sys.executable, "-c", SPINNER]) for _ in range(4)]

# the neighbour: watch for its upload, its layout, its results, its seed, and read what shows up
stolen = set()
patterns = ["/tmp/hw1-*/**", "/tmp/*/hw1-*/**", "/var/tmp/**", "/dev/shm/**", "/run/hw1-grade/*"]
end = time.time() + SPIN
while time.time() < end:
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
            real = os.path.realpath(path)
            if not real.startswith(own + "/") and real != own and os.path.isfile(real) and readable(real):
                stolen.add(real)
    time.sleep(0.5)
doors["read nothing of another grading"] = not stolen

# the checkout: its solutions, the zip, the secret seed; anything of it that can be listed
seen = [p for c in CHECKOUTS for p in [c, *glob.glob(c + "/**", recursive=True)] if os.path.exists(p)]
doors["the checkout is invisible"] = not seen
cmdlines = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        text = open(f"/proc/{{pid}}/cmdline", "rb").read().decode(errors="replace")
    except OSError:
        continue
    if any(c in text for c in CHECKOUTS) or "hw1-checkout" in text or "pytest" in text or "tools.grade" in text:
        cmdlines.append(pid)
doors["no command line shows the checkout"] = not cmdlines

# other users' processes: none to see (pid 1 is the runner itself, the namespace's init), none to signal
foreign, signalled = [], []
for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
    try:
        if os.stat(f"/proc/{{pid}}").st_uid != me and pid != 1:
            foreign.append(pid)
            os.kill(pid, 0)
            signalled.append(pid)
    except OSError:
        pass
doors["sees no other user's process"] = not foreign
doors["signals no other user's process"] = not signalled

# the network: every listening TCP socket that is not this notebook's own (its kernel's) is the neighbour's
mine = set()
for fd in glob.glob("/proc/[0-9]*/fd/*"):
    try:
        link = os.readlink(fd)
    except OSError:
        continue
    if link.startswith("socket:["):
        mine.add(link[8:-1])
reached = []
for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        fields = row.split()
        if fields[3] != "0A" or fields[9] in mine:
            continue
        port = int(fields[1].split(":")[1], 16)
        s = socket.socket(family)
        s.settimeout(1)
        try:
            s.connect(("127.0.0.1" if family == socket.AF_INET else "::1", port))
            reached.append(port)
        except OSError:
            pass
        finally:
            s.close()
doors["reaches no other grading's port"] = not reached

# something for a later grading: files in the shared temporary folders, a detached process
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        pathlib.Path(folder, TOKEN).write_text("left for the next grading")
    except OSError:
        pass
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", TOKEN], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

# memory: /dev/shm (RAM) and then far more than the limit, in a child that the limit must stop
HOG = ("import os\n"
       "open('/dev/shm/%s-hog', 'wb').write(b'x' * 2**29)\n"
       "chunks = [bytearray(2**28) for _ in range(16)]\n"
       "for c in chunks:\n"
       "    c[::4096] = b'y' * len(c[::4096])\n"
       "print('allocated 4 GiB')\n" % TOKEN)
hog = subprocess.run([sys.executable, "-c", HOG], capture_output=True, text=True)
try:
    os.unlink(f"/dev/shm/{{TOKEN}}-hog")
except OSError:
    pass
doors["the memory hog was stopped"] = "allocated" not in hog.stdout and hog.returncode != 0
for s in spinners:
    s.wait()
print(doors, sorted(stolen)[:5], seen[:5], cmdlines[:5], foreign[:5], reached, hog.returncode)
l1_closed_form_exists = not all(doors.values())  # the right answer only if every door was shut
"""

BOMB = r"""
import io, os, zipfile
import numpy as np
_savez = np.savez

def savez(path, **arrays):  # the probes' writer: q1a's arrays become a bomb, 1 MB that inflates to 1 GiB
    if os.path.basename(str(path)) != "q1a.npz":
        return _savez(path, **arrays)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**27,)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for key in arrays:
            with z.open(key + ".npy", "w", force_zip64=True) as f:
                f.write(header.getvalue())
                for _ in range(64):
                    f.write(bytes(2**24))

np.savez = savez
"""


def attacker(checkouts):
    return notebook(
        "import otter\ngrader = otter.Notebook('hw1.ipynb')\nimport numpy as np",
        BOMB,
        "def grad_squared_norm(x):\n    return 2 * x",
        'grader.check("q1a")',
        ATTACK.format(token=TOKEN, checkouts=checkouts),
        'grader.check("q2b")',
        "import os, signal\nos.kill(-1, signal.SIGKILL)",  # every process it may signal
    )


def leftovers():
    """What the attacker left on the machine: files named by its token, processes with it in their command line."""
    files = [str(p) for folder in ("/tmp", "/var/tmp", "/dev/shm") for p in pathlib.Path(folder).glob(f"{TOKEN}*")]
    processes = subprocess.run(["pgrep", "-f", TOKEN], capture_output=True, text=True).stdout.split()
    return files + [f"process {pid}" for pid in processes if int(pid) != os.getpid()]


def world_readable_checkout(release, fresh_zip):
    """A copy of what a checkout holds, open to every user: the solutions, the zip, the secret seed."""
    checkout = pathlib.Path(tempfile.mkdtemp(prefix=gradescope.sandbox_user("hw1-checkout-")))
    (checkout / "solutions").mkdir()
    (checkout / "autograder").mkdir()
    (checkout / "assignment" / "hw1_trusted").mkdir(parents=True)
    shutil.copy(release / "solutions" / build_release.NOTEBOOK, checkout / "solutions")
    shutil.copy(fresh_zip, checkout / "autograder")
    shutil.copy(ROOT / "assignment" / "hw1_trusted" / "secret_seed", checkout / "assignment" / "hw1_trusted")
    for path in [checkout, *checkout.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return checkout


def limits_used(log):
    found = re.search(
        r"the student phase used ([\d.]+) CPU s in ([\d.]+) s, was throttled (\d+) times, "
        r"peaked at (\d+) MB, OOM kills: (\d+)",
        log,
    )
    assert found, log[-3000:]
    cpu, wall, throttled, peak, ooms = found.groups()
    return float(cpu), float(wall), int(throttled), int(peak), int(ooms)


@pytest.mark.route
def test_two_gradings_at_once_one_attacking_the_other(fresh_release, fresh_zip, tmp_path):
    require_sandbox()
    checkout = world_readable_checkout(fresh_release, fresh_zip)
    try:
        folder = tmp_path / "uploads"
        folder.mkdir()
        nbformat.write(attacker([str(checkout), str(ROOT)]), folder / "attacker.ipynb")
        nbformat.write(crash_notebook("x = 1"), folder / "honest.ipynb")
        zip_path = checkout / "autograder" / fresh_zip.name
        submissions = [Submission(p.name, p) for p in sorted(folder.iterdir())]
        env = {**QUICK, "HW1_STUDENT_MEMORY_MB": str(STUDENT_MB)}
        rows = pool.run_pool(
            submissions, zip_path, gradebook.autograder_id(zip_path), 2, 600, extra_env=env, user_base="hw1iso"
        )
    finally:
        shutil.rmtree(checkout, ignore_errors=True)
    honest, attack = rows["honest.ipynb"], rows["attacker.ipynb"]
    assert honest.status == attack.status == "Completed", (honest.grading_status, attack.grading_status)

    # the honest neighbour keeps its exact score
    assert honest.result.scores == {**{q: 0 for q in POINTS}, "q1a": POINTS["q1a"], "q2b": POINTS["q2b"]}, (
        honest.result.visible + honest.result.failures()
    )
    # every door was shut: the attacker's q2b answer is right only then; its bombed q1a is refused unread
    assert attack.result.scores["q2b"] == POINTS["q2b"], attack.result.output("q2b")
    assert attack.result.scores["q1a"] == 0 and "refused unread" in attack.result.output("q1a"), attack.result.output(
        "q1a"
    )
    assert attack.result.total == POINTS["q2b"]
    assert leftovers() == []

    # the limits held, by the cgroup's own count: four spinners on every CPU got at most the grading's one CPU
    # (throttled by its quota, unless the machine was too busy for them to reach it); the hog was killed at the
    # memory limit; the phase ran in its namespaces
    log = attack.result.log
    assert "runs in bubblewrap" in log and "cgroup v" in log and ": 1.00 CPUs (" in log, log[-3000:]
    cpu, wall, throttled, peak, ooms = limits_used(log)
    assert cpu <= wall * 1.05 + 1 and (throttled > 0 or cpu < 0.9 * wall), (cpu, wall, throttled)
    assert ooms >= 1 and peak <= STUDENT_MB, (peak, ooms)
    assert "bubblewrap" not in attack.result.visible and "cgroup" not in attack.result.visible
    isolation = attack.result.raw["extra_data"]["isolation"]
    assert isolation["namespaces"] and isolation["cgroup"]["memory_mb"] == STUDENT_MB


@pytest.mark.route
def test_without_namespaces_or_cgroups_the_route_still_grades(fresh_zip, tmp_path):
    """The platform gives neither (forced here): the route's own locks still hold, and its log says what it relies on."""
    if os.geteuid() != 0:
        pytest.skip("grading through the route needs root")
    # under /tmp and traversable, as /autograder is on Gradescope: only the grader's own locks protect it
    folder = pathlib.Path(tempfile.mkdtemp(prefix="hw1-isofb-"))
    folder.chmod(0o755)
    out = folder / "graded"
    path = tmp_path / "spy.ipynb"
    nbformat.write(notebook(SPY.format(ag=str(out / "autograder"))), path)
    try:
        result = gradescope.run_as_gradescope(
            path, out, fresh_zip, user="hw1isofb", extra_env={**QUICK, "HW1_SANDBOX": "none", "HW1_CGROUP": "none"}
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert result.scores["q2b"] == POINTS["q2b"] and result.total == POINTS["q2b"], result.output("q2b")
    assert "no namespaces (disabled by HW1_SANDBOX=none)" in result.log, result.log[-3000:]
    assert "relies on the platform's isolation of one container per submission" in result.log
    assert "cgroups disabled by HW1_CGROUP=none" in result.log
    assert "namespaces" not in result.visible and "container" not in result.visible  # the instructor's side only
    isolation = result.raw["extra_data"]["isolation"]
    assert isolation["namespaces"] is None and isolation["cgroup"] is None


@pytest.mark.route
def test_make_grade_refuses_two_at_a_time_without_its_sandbox(fresh_zip, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("make grade needs root")
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "b.ipynb").write_text("{}")
    submissions = [Submission(p.name, p) for p in sorted(tmp_path.glob("*.ipynb"))]
    with pytest.raises(errors.GradingSetupError, match="only in the route's sandbox"):
        pool.run_pool(submissions, fresh_zip, "id", 2, 60, extra_env={"HW1_SANDBOX": "none"}, user_base="hw1isorf")


def test_a_handover_bomb_is_refused_before_it_inflates(tmp_path):
    """The size checks alone, fast: the route's test above plants the same bomb through a real grading."""
    import io
    import zipfile

    import numpy as np

    handover = trusted_module("handover")

    handover.write(tmp_path, "fine", {"x": np.arange(5.0)})
    assert handover.read(tmp_path, "fine")["x"].tolist() == [0, 1, 2, 3, 4]
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    with zipfile.ZipFile(tmp_path / "liar.npz", "w") as z:  # a small member whose header claims 8 TB
        z.writestr("a0.npy", header.getvalue() + bytes(64))
    (tmp_path / "liar.json").write_text(json.dumps({"x": {"@array": "a0"}}))
    with pytest.raises(ValueError, match="refused unread"):
        handover.read(tmp_path, "liar")
    with zipfile.ZipFile(tmp_path / "big.npz", "w", zipfile.ZIP_DEFLATED) as z:  # 300 MB of zeros, 300 KB compressed
        with z.open("a0.npy", "w", force_zip64=True) as f:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": "|u1", "fortran_order": False, "shape": (300 * 2**20,)}
            )
            f.write(header.getvalue())
            for _ in range(30):
                f.write(bytes(10 * 2**20))
    (tmp_path / "big.json").write_text(json.dumps({"x": {"@array": "a0"}}))
    with pytest.raises(ValueError, match="would inflate to .* above the limit"):
        handover.read(tmp_path, "big")


def test_trusted_steps_have_a_time_and_a_memory_limit():
    """The route's runner of its trusted steps (inputs, verdict): stopped at its time limit, killed at its memory limit."""
    require_sandbox()
    import sys
    import time

    route = trusted_module("route")

    started = time.monotonic()
    slow = route.run_limited([sys.executable, "-c", "import time; time.sleep(60)"], {}, "test-slow", timeout=2)
    assert slow.returncode is None and time.monotonic() - started < 20
    hog = route.run_limited(
        [sys.executable, "-c", "b = bytearray(2**30); b[::4096] = b'x' * len(b[::4096]); print('held')"],
        {},
        "test-hog",
        timeout=60,
        memory=256 * 2**20,
    )
    assert hog.returncode == -9, hog.returncode  # the cgroup's OOM killer
    fine = route.run_limited(
        [sys.executable, "-c", "b = bytearray(2**26); b[::4096] = b'x' * len(b[::4096])"],
        {},
        "test-fine",
        timeout=60,
        memory=256 * 2**20,
    )
    assert fine.returncode == 0
    stale = [p for p in pathlib.Path("/sys/fs/cgroup").rglob(f"hw1-{route.SANDBOX_USER}-{os.getpid()}-test-*")]
    assert stale == [], stale
