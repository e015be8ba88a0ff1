"""What a student sees on Gradescope right after submitting: what ran and what was handed over, in the grader's words.

The solution and the untouched student notebook come from the graded corpus (graded once per
session); one notebook that crashes early is graded here. Each results.json is checked against
Gradescope's results format (tests/schemas/gradescope_results.json).
"""

import json
import re

import jsonschema
import nbformat
import pytest

from tests.helpers import trusted_copy
from tools.build import master_notebook
from tools.build import release as build_release
from tools.grade import gradescope

pytestmark = pytest.mark.route

ROOT = build_release.ROOT
policy = trusted_copy.module("policy")
QUESTIONS = [q["name"] for q in master_notebook.questions() if not q["manual"]]
SUMMARY = "Your submission: what ran, what was handed over"
SELF_CHECKS = (
    "Your self-checks (grader.check) are not repeated here: run them in your notebook. They carry no points; "
    "the hidden checks that give the points are separate."
)
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "gradescope_results.json").read_text())


def entry(result, name):
    found = [t for t in result.raw["tests"] if t["name"] == name]
    assert len(found) == 1, f"{name!r}: {len(found)} entries"
    return found[0]


def sections(summary):
    """{heading's first words: [its indented lines]} of the summary, and its leading lines."""
    blocks = summary.split("\n\n")
    return (
        blocks[0].split("\n"),
        {b.split("\n")[0].split(",")[0].split(" (")[0]: b.split("\n")[1:] for b in blocks[1:-1]},
        blocks[-1],
    )


def listed(lines):
    """{label: [questions]} of lines ``  label: q1, q2``."""
    out = {}
    for line in lines:
        assert line.startswith("  "), line
        label, _, names = line.strip().rpartition(": ")
        out[label] = names.split(", ")
    return out


def check_common(result):
    """What every graded submission shows at once, whatever it did."""
    jsonschema.validate(result.raw, SCHEMA)
    notes = entry(result, "Grading notes")
    assert notes["visibility"] == "visible"
    assert notes["output"].split("\n")[0] == f"Autograder {result.raw['extra_data']['autograder'][:12]}."
    summary = entry(result, SUMMARY)
    assert summary["visibility"] == "visible" and "max_score" not in summary
    for question in QUESTIONS:
        assert entry(result, question)["visibility"] == policy.HIDDEN_RESULTS_VISIBILITY
    head, parts, tail = sections(summary["output"])
    handed = listed(parts["Answers handed over to the grader"])
    # every autograded question exactly once, nothing else
    assert sorted(q for qs in handed.values() for q in qs) == sorted(QUESTIONS), handed
    # the self-checks' results come from the student's own process, which its code can rewrite: never repeated
    assert summary["output"].split("\n\n")[-2] == SELF_CHECKS
    assert (
        tail
        == "Per-question results and points are shown "
        + {"after_published": "when your instructor publishes the grades.", "after_due_date": "after the due date."}[
            policy.HIDDEN_RESULTS_VISIBILITY
        ]
    )
    for label, questions in handed.items():  # the summary agrees with the hidden verdict
        for question in questions:
            stopped = "no answer was handed over: the notebook stopped" in entry(result, question)["output"]
            nothing = label.startswith(
                ("no answer: your notebook stopped", "no answer: the question's check did not finish")
            )
            assert stopped == nothing, (question, label)
    hidden_words = {t["output"] for t in result.raw["tests"] if t["name"] in QUESTIONS}
    assert not any(words in result.visible for words in hidden_words if words)  # hidden results stay hidden
    return head, handed


def seconds(head):
    found = re.fullmatch(r"Your notebook ran to the end in (\d+) s\.", head[0])
    assert found, head
    return int(found.group(1))


def check_solution(result):
    head, handed = check_common(result)
    assert 0 < seconds(head) <= policy.PHASE_TIMEOUT
    assert head == [head[0]]  # one line, the route's own: nothing counted from a record the student can write
    assert handed == {"answer handed over": QUESTIONS}


def check_blank(result):
    head, handed = check_common(result)
    assert 0 < seconds(head) <= policy.PHASE_TIMEOUT
    assert head == [head[0]] and "of its cells raised" not in result.visible, head  # its stubs raise: not counted
    assert handed != {"answer handed over": QUESTIONS}, handed


def check_crash(result):
    head, handed = check_common(result)
    assert re.fullmatch(r"Your notebook did not run to the end: its kernel died after \d+ s \(.*\)\.", head[0]), head
    assert head == [head[0]] and "of its cells raised" not in result.visible
    assert handed == {"no answer: your notebook stopped before the question's check ran": QUESTIONS}
    assert "Your notebook did not run to the end: its kernel died" in entry(result, "Grading notes")["output"]


def test_the_solution_sees_what_ran_everything_handed_over_and_every_self_check_passed(graded_corpus):
    check_solution(graded_corpus["solution"])


def test_the_blank_notebook_sees_its_self_checks_fail(graded_corpus):
    check_blank(graded_corpus["blank_student"])


CRASH = ["x = 1", "raise ValueError('an early mistake')", "import os\nos._exit(1)", "y = 2"]


@pytest.fixture(scope="module")
def crash_result(fresh_zip, tmp_path_factory):
    from tests.test_route import QUICK, notebook

    out = tmp_path_factory.mktemp("crash")
    nbformat.write(notebook(*CRASH), out / "crash.ipynb")
    return gradescope.run_as_gradescope(
        out / "crash.ipynb", out / "graded", fresh_zip, user="hw1crash", extra_env=QUICK
    )


def test_a_crashing_notebook_sees_where_it_stopped_and_that_nothing_was_handed_over(crash_result):
    check_crash(crash_result)
    assert crash_result.total == 0
