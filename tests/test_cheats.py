"""The cheat corpus (tests/cheats.py), graded through the route as Gradescope runs the zip.

Every cheat must gain 0 points over its control on every question; training on the test set
cannot be prevented and must be flagged instead. The victim of ``steal_other_grading`` is the
``partial`` control, graded first with its root-only work folder kept, as a concurrent
grading's would be.
"""

import concurrent.futures
import glob
import json
import os
import pwd
import queue
import subprocess

import pytest
from cheats import CHEATS, CONTROLS
from conftest import selected

from tools import gradescope
from tools.trusted import settings

PHASE = {"HW1_PHASE_TIMEOUT": "180"}  # stubs run in seconds; never_ending_kernel meets this limit
USERS = ("hw1cheat0", "hw1cheat1")  # the two busy workers, a CPU each
WAITER = "hw1cheat2"  # grades the cheats that sleep until the phase limit (no CPU), beside the two workers


@pytest.fixture(scope="module")
def graded_cheats(fresh_zip, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cheats")
    out = tmp_path_factory.mktemp("cheats_graded")
    for stale in glob.glob("/tmp/hw1cheat-*"):  # markers the side-effect test looks for must be this run's
        os.unlink(stale)

    def grade(name, upload, user, env=PHASE):
        cpu = str((USERS + (WAITER,)).index(user) % os.cpu_count())
        return gradescope.run_as_gradescope(upload, out / name, fresh_zip, user=user, cpus=cpu, extra_env=env)

    def grade_control(name, user):
        keep = {"HW1_KEEP_WORK": "1"} if name == "partial" else {}  # the victim of steal_other_grading
        return grade(f"control_{name}", CONTROLS[name](folder / f"control_{name}"), user, {**PHASE, **keep})

    # the controls at once, one per worker, and both before any cheat (steal_other_grading attacks partial's)
    assert len(CONTROLS) <= len(USERS)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(USERS)) as pool:
        controls = dict(zip(CONTROLS, pool.map(grade_control, CONTROLS, USERS)))

    users = queue.Queue()
    for user in USERS:
        users.put(user)

    def grade_busy(cheat):
        user = users.get()
        try:
            return grade(cheat.name, cheat.build(folder / cheat.name), user)
        finally:
            users.put(user)

    def grade_waiting(waiting):
        return [grade(cheat.name, cheat.build(folder / cheat.name), WAITER) for cheat in waiting]

    chosen = list(selected({c.name: c for c in CHEATS}, settings.CHEATS_ONLY).values())
    waiting = [c for c in chosen if c.waits]
    # the longest first (more training, or a busy loop until a limit; then the partial control's training), so
    # that the two workers end together instead of one grading a long cheat alone at the end
    busy = sorted((c for c in chosen if not c.waits), key=lambda c: (not c.long, c.control != "partial"))
    with (
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as side,
        concurrent.futures.ThreadPoolExecutor(max_workers=len(USERS)) as pool,
    ):
        asleep = side.submit(grade_waiting, waiting)
        results = dict(zip([c.name for c in busy], pool.map(grade_busy, busy)))
        results.update(zip([c.name for c in waiting], asleep.result()))
    return controls, {c.name: results[c.name] for c in chosen}


def test_corpus_covers_every_class():
    assert len(CHEATS) >= 15 and len({c.name for c in CHEATS}) == len(CHEATS)
    assert any(c.flagged for c in CHEATS)


@pytest.mark.route
@pytest.mark.parametrize("cheat", CHEATS, ids=lambda c: c.name)
def test_cheat_gains_nothing(graded_cheats, cheat):
    controls, cheats = graded_cheats
    if cheat.name not in cheats:
        pytest.skip("not selected by HW1_CHEATS_ONLY")
    control, result = controls[cheat.control], cheats[cheat.name]
    if cheat.flagged:  # training on the public test set: detected, not prevented
        assert result.flags, f"{cheat.name} was not flagged: {cheat.why}"
        return
    gains = {
        q: result.scores[q] - control.scores[q]
        for q in control.scores
        if result.scores[q] > control.scores[q] and q not in cheat.undetectable_on
    }
    assert not gains, f"{cheat.name} ({cheat.why}) gained {gains} over {cheat.control}:\n{result.failures()}"


@pytest.mark.route
def test_no_cheat_leaves_anything_running_or_reads_a_secret(graded_cheats, fresh_zip):
    import zipfile

    _, cheats = graded_cheats
    for user in USERS + (WAITER,):
        try:
            uid = pwd.getpwnam(gradescope.sandbox_user(user)).pw_uid
        except KeyError:  # never created: HW1_CHEATS_ONLY chose no cheat that this user grades
            continue
        alive = subprocess.run(["pgrep", "-u", str(uid)], capture_output=True, text=True).stdout.split()
        assert alive == [], f"processes of {user} survived grading"
    assert not glob.glob("/tmp/hw1cheat-survived-*"), "something of the sandbox user ran after its phase"
    assert not glob.glob("/tmp/hw1cheat-imported-*-uid0"), "a root process imported a module planted by a student"
    with zipfile.ZipFile(fresh_zip) as z:
        seed = z.read("files/hw1_trusted/secret_seed").decode().split()[0]
    for name, result in cheats.items():
        assert seed not in json.dumps(result.raw), f"{name}: the secret seed reached the results"
        assert "ALL TESTS PASSED" not in result.visible and "NOTE TO GRADERS" not in result.visible, name
