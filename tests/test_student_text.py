"""Only the grader's words in the grader's voice: the student's text is cleaned, bounded and quoted with a label.

A forger hands over answers whose strings (exception texts, type names, missing names, probe
errors, dict keys) hold line breaks of every kind and claims in the course staff's voice, plants
hand-over files with such names, and writes a forged self-check record. In-process, the hand-over
reader, the verdict, the route's notes and the class report meet these files; one forging notebook
is graded through the built zip's route. Nothing of the forger's may appear unlabelled, and no line
may start a fake ``passed (``/``failed (`` line.
"""

import json
import os
import pathlib
import re

import numpy as np
import pytest

from tests.helpers import trusted_copy

ROOT = trusted_copy.ROOT
handover = trusted_copy.module("handover")
verdict = trusted_copy.module("verdict")
route = trusted_copy.module("route")
checks = trusted_copy.module("checks")
inputs = trusted_copy.module("inputs")

CLAIM = "NOTE FROM COURSE STAFF"
EVIL = (
    f"boom\n{CLAIM}: Final autograder score: 73\u221573 \u2014 all hidden tests passed\npassed (2/2): everything"
    '\u2028failed (0/1): x\x85y\u2029z\r\n\x1b[2Kq\u202e\u200bend "quoted" (quoted from your submission) '
    + "long "
    * 100
)
LABELLED = re.compile(r'"[^"]*" \(quoted from your submission\)')
SEPARATORS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\ue000\ue001]")


def grader_lines(results):
    """Every line that results.json shows, in any entry, and the pkl's messages."""
    for test in results["tests"]:
        yield from test.get("output", "").split("\n")
        yield test["name"]


def assert_only_labelled(results, cases=None):
    """The claim appears only inside labelled quotes; no line holds a separator or starts a fake result."""
    text = json.dumps(results, ensure_ascii=False)
    assert not SEPARATORS.search(json.loads(json.dumps(text))), "a control or separator character reached the results"
    for line in grader_lines(results):
        assert "\r" not in line and not SEPARATORS.search(line), repr(line)
        unlabelled = LABELLED.sub("", line)
        assert CLAIM not in unlabelled, f"the student's text speaks unlabelled: {line!r}"
        for quoted in LABELLED.findall(line):
            assert len(quoted) <= handover.MAX_TEXT + len('"" (quoted from your submission)'), quoted
    if cases is not None:  # every line starting with passed/failed is one of the grader's own cases
        for test in results["tests"]:
            if "max_score" not in test:
                assert not re.search(r"^\s*(passed|failed) \(", test["output"], re.M), test["output"]
                continue
            starts = [l for l in test["output"].split("\n") if re.match(r"\s*(passed|failed) \(", l)]
            whats = [what for what, *_ in checks.CASES[test["name"]]]
            assert len(starts) == len(whats), test["output"]
            for line, what in zip(starts, whats):
                assert re.fullmatch(rf"(passed|failed) \([\d.]+/[\d.]+\): {re.escape(what)}", line), line


def forged_answers(folder):
    """Hand-over files for every question, each carrying EVIL where a check quotes the student."""
    folder.mkdir(exist_ok=True)
    for i, question in enumerate(checks.CASES):
        kind = i % 4
        if kind == 0:
            answers = {"@probe_error": EVIL}
        elif kind == 1:
            answers = {"@missing": [EVIL, "x\ny"]}
        elif kind == 2:  # every value an error of the student's code, keys forged too
            answers = {
                key: {"@error": EVIL}
                for key in (
                    "value",
                    "update",
                    "trajectory",
                    "shapes",
                    "forward",
                    "evaluate",
                    "f_at_2",
                    "grad_at_2",
                    "theta_dataset1",
                    "theta_dataset2",
                    "params",
                    "weights",
                    EVIL,
                )
            }
        else:  # type names, and data of the wrong kind where numbers belong
            answers = {
                key: {"@type": EVIL}
                for key in (
                    "value",
                    "weights",
                    "biases",
                    "probs",
                    "f_at_2",
                    "grad_at_2",
                    "theta_dataset1",
                    "layers",
                    "accuracy",
                )
            }
            answers[EVIL] = [EVIL, {"@array": "a0"}]
        (folder / f"{question}.json").write_text(json.dumps(answers))
        np.savez(folder / f"{question}.npz", a0=np.array([EVIL, "b"]))


@pytest.fixture(scope="module")
def forged_verdict(tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    (work / "inputs").mkdir()
    datasets = inputs.Datasets()
    for question in checks.CASES:
        inputs.save(work / "inputs", question, inputs.generate(question, datasets))
    forged_answers(work / "answers")
    (work / "phase.json").write_text(
        json.dumps({"ended": "end", "seconds": 12.3, "phase_limit": 420, "cell_limit": 240})
    )
    (work / "collected.json").write_text(json.dumps({"questions": dict.fromkeys(checks.CASES, "whole")}))
    (work / "timings.json").write_text("{}")
    results = work / "results"
    results.mkdir()
    notes = [
        "Autograder 0123456789ab.",
        "A cell ran over the 240 s time limit per cell and was interrupted: " + handover.student_text(EVIL, 80),
    ]
    payload = verdict.main(work, work / "answers", results, notes, "0123456789ab" * 4)
    return payload, results


def test_read_cleans_every_string_and_marks_the_values(tmp_path):
    (tmp_path / "q.json").write_text(json.dumps({EVIL: [EVIL, 1.5, {"k\n": EVIL}], "a": {"@array": "a0"}}))
    np.savez(tmp_path / "q.npz", a0=np.array([EVIL]))
    out = handover.read(tmp_path, "q")
    key = handover.clean_text(EVIL)
    assert set(out) == {key, "a"} and "\n" not in key and len(key) <= handover.MAX_TEXT
    value = out[key][0]
    assert value.startswith(handover.STUDENT_OPEN) and value.endswith(handover.STUDENT_CLOSE)
    assert not SEPARATORS.search(value[1:-1]) and len(value) <= handover.MAX_TEXT + 2
    assert out[key][1] == 1.5 and list(out[key][2]) == ["k"]
    assert out["a"] == {"@type": "an array of 'U'-kind values (not numbers)"}


def test_render_labels_each_piece_and_keeps_one_line():
    shown = verdict.render(f"train_one_sample raised {handover.student_text(EVIL)} after {handover.student_text('x')}")
    assert shown.startswith('train_one_sample raised "boom NOTE FROM COURSE STAFF')
    assert shown.count("(quoted from your submission)") >= 2
    assert len(LABELLED.findall(shown)) == 2 and "\n" not in shown and CLAIM not in LABELLED.sub("", shown)
    cut = verdict.render("raised " + handover.student_text(EVIL)[:30])  # a message cut inside the quote
    assert cut.endswith("(quoted from your submission)") and CLAIM not in LABELLED.sub("", cut)


SCHEMA = json.loads((ROOT / "tests" / "schemas" / "gradescope_results.json").read_text())


def test_forged_answers_reach_the_results_only_as_labelled_quotes(forged_verdict):
    import jsonschema

    payload, results = forged_verdict
    written = json.loads((results / "results.json").read_text())
    jsonschema.validate(written, SCHEMA)
    assert_only_labelled(written, cases=True)
    assert CLAIM in json.dumps(written)  # the text is shown, labelled: the test would see it unlabelled
    for question in checks.CASES:
        assert written["tests"][[t["name"] for t in written["tests"]].index(question)]["score"] == 0


def test_the_summary_carries_no_text_or_number_of_a_students_record(forged_verdict):
    payload, _ = forged_verdict
    summary = next(t for t in payload["tests"] if t["name"] == verdict.FEEDBACK)["output"]
    assert "boom" not in summary and CLAIM not in summary
    assert "passed:" not in summary and "failed:" not in summary  # the self-checks' record is not repeated
    assert summary.startswith("Your notebook ran to the end in 12 s.\n\n")  # the route's own clock


def test_the_pickled_results_carry_the_same_labelled_messages(forged_verdict):
    import dill

    _, results = forged_verdict
    with open(results / "results.pkl", "rb") as f:
        pickled = dill.load(f)
    messages = [r.message for test in pickled.results.values() for r in test.test_case_results if r.message]
    assert messages and any(CLAIM in m for m in messages)
    for message in messages:
        assert "\n" not in message and not SEPARATORS.search(message) and CLAIM not in LABELLED.sub("", message)


def test_collection_opens_only_the_expected_names_and_refuses_what_is_not_plain_data(tmp_path):
    folder = tmp_path / "handover"
    folder.mkdir()
    (folder / "q1a.json").write_text("{}")
    os.symlink("/etc/passwd", folder / "q1b.json")  # a link where an answer is expected: refused, not followed
    os.mkfifo(folder / "q2a.npz")  # a FIFO: refused without blocking
    os.symlink("/etc/passwd", folder / f"x\n{CLAIM}: 73\u221573 passed (2 of 2).json")  # never opened
    found = handover.collect(folder, tmp_path / "answers", None, ["q1a", "q1b", "q2a", "q2b"])
    assert found.questions == {"q1a": "whole", "q1b": "kind", "q2a": "kind", "q2b": "none"}
    assert sorted(p.name for p in (tmp_path / "answers").iterdir()) == ["q1a.json"]
    assert CLAIM not in json.dumps(found.as_json())


def test_a_refused_handover_is_reported_in_the_graders_words_naming_nothing_of_the_file(tmp_path):
    # a bundle whose member is not a plain array, named with a claim: the refusal names neither
    import zipfile

    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "q1a.json").write_text(json.dumps({"v0": {"@array": "a0"}}))
    with zipfile.ZipFile(folder / "q1a.npz", "w") as z:
        z.writestr(f"{CLAIM}: 73 of 73.npy", b"not an array")
    ctx = verdict.Context(None, tmp_path, folder)
    out = ctx.answers("q1a")
    assert out["@unreadable"] is True and CLAIM not in json.dumps(out), out
    with pytest.raises(checks.Mismatch) as refusal:
        checks.answered(out)
    message = verdict.render(refusal.value)
    assert "refused" in message and "quoted from your submission" not in message and CLAIM not in message, message
    assert verdict.answer_status(out) == "unreadable"


def test_phase_notes_carry_nothing_that_a_student_record_chose():
    line = f"# {CLAIM}: 810877 hidden tests passed \u202e"
    progress = {"cell": line, "timed_out": [line] * 5, "error": line, "raised": 810877}
    phase = route.phase_record(1, 10.0, progress, {"killed": True})
    notes = route.phase_notes(phase)
    shown = "\n".join(verdict.render(n) for n in notes)
    assert CLAIM not in shown and "810877" not in shown and "quoted" not in shown, shown
    assert phase["ended"] == "stopped early" and phase["cell_timeouts_reported"] is True
    assert "810877" not in json.dumps(phase) and CLAIM not in json.dumps(phase)


def test_the_class_report_counts_the_graders_messages(forged_verdict):
    from tools.grade import gradebook, gradescope, report
    from tools.grade.submissions import Submission

    payload, _ = forged_verdict
    other = json.loads(json.dumps(payload).replace("boom", "another text"))
    rows = [
        gradebook.Row(
            Submission(name, pathlib.Path(f"{name}.ipynb")), gradebook.COMPLETED, "", gradescope.Result(raw), 1.0, True
        )
        for name, raw in (("a", payload), ("b", other))
    ]
    stats = report.class_statistics(rows)
    shown = json.dumps({q: s["failures"] for q, s in stats["questions"].items()}) + json.dumps(list(stats["notes"]))
    assert "boom" not in shown and "another text" not in shown and CLAIM not in shown
    for q, s in stats["questions"].items():
        for failure in s["failures"]:
            assert all(count == 2 for _, count in failure["messages"]), (q, failure)  # one template, both submissions


# --- one forging notebook through the route -------------------------------------------------------

FORGER = r"""
import json, os, sys, types
EVIL = {evil!r}
folder = os.environ["HW1_HANDOVER"]
os.symlink("/etc/passwd", os.path.join(folder, "x\n" + EVIL[:60].replace("/", "-") + ".json"))

def probe(question, env):
    kind = sum(map(ord, question)) % 3
    answers = [{{"@probe_error": EVIL}}, {{"@missing": [EVIL]}}, {{"value": {{"@error": EVIL}}, "weights": {{"@type": EVIL}}}}][kind]
    with open(os.path.join(folder, question + ".json"), "w") as f:
        json.dump(answers, f)

fake = types.ModuleType("hw1_probes")
fake.probe = probe
sys.modules["hw1_probes"] = fake
"""


@pytest.mark.route
def test_a_forging_notebook_graded_through_the_route(fresh_zip, tmp_path):
    import nbformat

    from tests.test_route import QUICK, notebook
    from tools.grade import gradescope

    path = tmp_path / "forger.ipynb"
    nbformat.write(notebook(FORGER.format(evil=EVIL), f"raise ValueError({EVIL!r})", "x = 1"), path)
    result = gradescope.run_as_gradescope(path, tmp_path / "graded", fresh_zip, user="hw1forge", extra_env=QUICK)
    import jsonschema

    jsonschema.validate(result.raw, SCHEMA)
    assert_only_labelled(result.raw, cases=True)
    assert result.total == 0
    summary = next(t for t in result.raw["tests"] if t["name"] == verdict.FEEDBACK)["output"]
    assert "Your notebook ran to the end" in summary and "of its cells raised" not in summary  # not a record's count
    shown = "\n".join(t["output"] for t in result.raw["tests"] if "max_score" in t)
    assert CLAIM in shown  # quoted with its label: the assertion above would see it otherwise
