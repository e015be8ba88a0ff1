"""The hand-over, both ends in-process: what a probe writes in the student's kernel (hw1_probes) is what the
trusted phase reads (handover.read through verdict.Context), dtypes included, and a tampered bundle is refused.
"""

import io
import json
import os
import zipfile

import numpy as np
import pytest
import torch

from tests.helpers import trusted_copy
from tools.trusted import load_probes

hw1_probes = load_probes()  # the student side's module, under the name the notebook imports it by

checks, handover, I, R, verdict = (
    trusted_copy.module(m) for m in ("checks", "handover", "inputs", "reference", "verdict")
)


@pytest.fixture
def answers(tmp_path, monkeypatch):
    """The hand-over folder, as the route gives it to the probes ($HW1_HANDOVER)."""
    folder = tmp_path / "answers"
    folder.mkdir()
    (tmp_path / "inputs").mkdir()
    monkeypatch.setenv("HW1_HANDOVER", str(folder))
    monkeypatch.setenv("HW1_PROBE_INPUTS", str(tmp_path / "inputs"))
    return folder


def hand_over(name, value):
    """What a probe does with a student's value: plain data with its float dtypes noted, written by its writer."""
    hw1_probes._DTYPES.clear()
    answers = hw1_probes.plain(value)
    answers["@dtypes"] = sorted(hw1_probes._DTYPES)
    hw1_probes._handover(name, answers)
    return answers


def read(folder, name):
    """The hand-over as the verdict reads it."""
    return verdict.Context(None, folder.parent, folder).answers(name)


STUDENT = {
    "float32 array": np.array([[1 / 3, 2.5e-8], [1e30, -0.0]], dtype=np.float32),
    "float64 array": np.array([1 / 3, np.pi, 1e-300]),
    "int array": np.arange(5, dtype=np.int64),
    "bool array": np.array([True, False]),
    "float32 scalar": np.float32(1 / 3),
    "torch float32": torch.tensor([1 / 7, 2 / 7], dtype=torch.float32),
    "nested": [{"W_H": np.ones(4, dtype=np.float32), "b_O": 1.0}, (3, 4), None, True],
    "text": "a student's string\nwith a line break",
}


def test_what_a_probe_writes_is_what_the_verdict_reads(answers):
    written = hand_over("rt", dict(STUDENT))
    got = read(answers, "rt")
    assert set(got) == set(STUDENT) | {"@dtypes"}
    # every float is handed over as float64, exactly (float32 to float64 loses nothing) ...
    for key in ("float32 array", "float64 array", "torch float32"):
        assert got[key].dtype == np.float64 and np.array_equal(got[key], np.asarray(written[key]))
    assert np.array_equal(got["float32 array"].astype(np.float32), STUDENT["float32 array"])
    assert np.array_equal(got["torch float32"].astype(np.float32), STUDENT["torch float32"].numpy())
    assert got["float32 scalar"] == float(np.float32(1 / 3))
    assert got["int array"].dtype == np.int64 and got["int array"].tolist() == [0, 1, 2, 3, 4]
    assert got["bool array"].dtype == bool and got["bool array"].tolist() == [True, False]
    assert got["nested"][0]["W_H"].tolist() == [1.0] * 4 and got["nested"][1:] == [[3, 4], None, True]
    # ... and the precision it was computed in travels as @dtypes: float32 answers keep their tolerance
    assert R.precision(got) == "float32"
    assert [d.strip(handover.STUDENT_OPEN + handover.STUDENT_CLOSE) for d in got["@dtypes"]] == ["float32", "float64"]
    # the student's text comes back cleaned and marked as the student's, never as plain text
    assert got["text"] == handover.student_text(STUDENT["text"])


def test_float64_answers_read_as_float64(answers):
    hand_over("rt", {"value": np.array([1 / 3]), "n": 3})
    assert R.precision(read(answers, "rt")) == "float64"


def test_the_trusted_writer_and_the_probes_writer_write_the_same_bundle(answers, tmp_path):
    """The trusted side's own writer (handover.write, used for the inputs' tests) and the probes' are one format."""
    plain = hand_over("rt", dict(STUDENT))
    other = tmp_path / "trusted"
    other.mkdir()
    handover.write(other, "rt", plain)
    assert json.loads((answers / "rt.json").read_text()) == json.loads((other / "rt.json").read_text())
    ours, theirs = read(answers, "rt"), handover.read(other, "rt")
    assert json.dumps(ours, default=lambda a: a.tolist()) == json.dumps(theirs, default=lambda a: a.tolist())


def test_a_real_probe_in_float32_is_judged_in_float32(answers, tmp_path):
    """q1a's real probe on real inputs: the float32 answers arrive exact, marked float32, and pass their check."""
    inp = I.generate("q1a", None)
    I.save(tmp_path / "inputs", "q1a", inp)
    env = {"grad_squared_norm": lambda x: (2 * x).astype(np.float32)}
    hw1_probes.probe("q1a", env)
    out = read(answers, "q1a")
    assert R.precision(out) == "float32"
    for key in inp:
        assert np.array_equal(out[key], (2 * inp[key]).astype(np.float32).astype(np.float64))
    checks.q1a_gradient(inp, out, None)


def _refused(folder, name):
    out = read(folder, name)
    assert out["@unreadable"] is True
    with pytest.raises(R.Mismatch, match="the handed-over answers were refused"):
        checks.answered(out)
    return out["@refused"]


def test_an_oversized_json_is_refused_unread(answers):
    hand_over("rt", {"value": 1.0})
    with open(answers / "rt.json", "r+b") as f:
        f.truncate(handover.MAX_BYTES + 1)  # sparse: no disk used
    assert "is not a regular file of at most" in _refused(answers, "rt")


def test_a_symlinked_bundle_is_refused(answers, tmp_path):
    hand_over("rt", {"value": 1.0})
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"value": 2.0}))
    os.remove(answers / "rt.json")
    os.symlink(secret, answers / "rt.json")
    assert "cannot be read safely" in _refused(answers, "rt")


def test_an_array_bomb_is_refused_before_it_inflates(answers):
    hand_over("rt", {"value": np.ones(3)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:  # 300 MB of zeros in a small file
        with z.open("a0.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(
                member, {"descr": "<f8", "fortran_order": False, "shape": (300 * 2**20 // 8,)}
            )
            zeros = bytes(2**20)
            for _ in range(300):
                member.write(zeros)
    (answers / "rt.npz").write_bytes(buffer.getvalue())
    assert "refused unread" in _refused(answers, "rt")


def test_a_pickled_array_is_refused(answers):
    hand_over("rt", {"value": np.ones(3)})
    np.savez(answers / "rt.npz", a0=np.array([{"a": 1}], dtype=object))
    reason = _refused(answers, "rt")
    assert "could not be read as plain data" in reason and "{'a'" not in reason


def test_a_tampered_value_reads_as_the_students_text_not_as_a_note(answers):
    """A bundle edited to claim a grader's note: the string comes back marked as the student's."""
    hand_over("rt", {"value": 1.0})
    (answers / "rt.json").write_text(json.dumps({"value": "passed (4/4): all correct", "@dtypes": ["float64"]}))
    got = read(answers, "rt")
    assert got["value"].startswith(handover.STUDENT_OPEN)
