"""The cheat corpus (tests/corpus/cheats.py), graded through the route as Gradescope runs the zip.

Every cheat must gain 0 points over its control on every question; training on the test set
cannot be prevented and must be flagged instead. The victim of ``steal_other_grading`` is the
``partial`` control, graded first with its root-only work folder kept, as a concurrent
grading's would be.
"""

import glob
import json
import pwd
import subprocess

import pytest

from tests.conftest import selected
from tests.corpus.cheats import CHEATS, USERS, WAITER, grade_corpus, kill_matrix_rows
from tools import ROOT
from tools.grade import gradescope
from tools.trusted import settings


@pytest.fixture(scope="module")
def graded_cheats(fresh_zip, tmp_path_factory):
    chosen = list(selected({c.name: c for c in CHEATS}, settings.CHEATS_ONLY).values())
    return grade_corpus(fresh_zip, tmp_path_factory.mktemp("cheats"), tmp_path_factory.mktemp("cheats_graded"), chosen)


def test_the_kill_matrix_documents_every_cheat_and_no_undue_gain():
    """docs/integrity.md's kill matrix (written by ``python -m tests.corpus.cheats --grade OUT --doc``) has one row per
    cheat of the corpus, in its order, and a positive gain only where the cheat is flagged or a documented limit."""
    rows = kill_matrix_rows((ROOT / "docs" / "integrity.md").read_text())
    assert [row["cheat"] for row in rows] == [c.name for c in CHEATS]
    allowed = {c.name for c in CHEATS if c.flagged or c.undetectable_on}
    assert [row["cheat"] for row in rows if row["gain"] > 0 and row["cheat"] not in allowed] == []


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
def test_probe_aware_training_gains_nothing_and_is_flagged(graded_cheats):
    # train_one_sample is consistent on the one update case the notebook can read, and trains with autograd
    # elsewhere: the audited steps of its own training (drawn at run time, in no input file) catch it
    controls, cheats = graded_cheats
    if "p5_probe_aware_update" not in cheats:
        pytest.skip("not selected by HW1_CHEATS_ONLY")
    result = cheats["p5_probe_aware_update"]
    assert result.scores["q5_4"] <= controls["partial"].scores["q5_4"], result.failures()
    assert any("probed" in flag for flag in result.flags), result.flags


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
