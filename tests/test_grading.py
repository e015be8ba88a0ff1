"""Real submissions graded through the real route (the zip's run_autograder, two phases)."""

import re

import pytest

from tests.corpus.graded import SUBMISSIONS
from tools import ROOT
from tools.build import master_notebook

QUESTIONS = master_notebook.autograded_questions()
POINTS = {q["name"]: q["points"] for q in master_notebook.questions()}


def expected_points(submission, question):
    if submission.all_zero:
        return 0
    return submission.expected.get(question, POINTS[question])


@pytest.mark.route
@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_question_score(graded_corpus, name, question):
    if name not in graded_corpus:
        pytest.skip("not selected by HW1_CORPUS_ONLY")
    result = graded_corpus[name]
    assert result.max_scores[question] == POINTS[question], "the results' points differ from the master notebook's"
    expected = expected_points(SUBMISSIONS[name], question)
    assert result.scores[question] == expected, (
        f"{name} ({SUBMISSIONS[name].why}) scored {result.scores[question]} on {question}, "
        f"expected {expected}:\n{result.output(question)}"
    )


def test_corpus_expectations_name_real_questions():
    for name, submission in SUBMISSIONS.items():
        unknown = set(submission.expected) - set(QUESTIONS)
        assert not unknown, f"{name} expects scores for unknown questions {unknown}"


def test_corpus_is_large_enough_and_every_mutant_is_graded():
    from tests.corpus import students

    correct = [n for n in SUBMISSIONS if n.startswith("correct_")]
    assert len(correct) >= 8 and len(students.MUTANTS) >= 40, (len(correct), len(students.MUTANTS))
    combined = [m for names in students.COMBINED.values() for m in names]
    assert sorted(combined) == sorted(students.MUTANTS), "every mutant is graded, once"
    base_losses = {name: base.expected for name, base in students.BASES.items()}
    for name, mutant in students.MUTANTS.items():
        own = {q: p for q, p in mutant.expected.items() if base_losses[mutant.base].get(q) != p}
        assert own, f"{name} must lose points of its own"


def test_readme_kill_matrix_is_the_corpus():
    from tests.corpus import students

    readme = (ROOT / "docs" / "testing.md").read_text()  # the mutants' table lives with the corpora
    for name, _fault, _questions, _base in students.kill_matrix():
        assert f"| {name} |" in readme, f"docs/testing.md's mutant table lacks {name}"


def test_autograded_and_manual_points_add_up_to_the_handout():
    per_problem = {}
    for q in master_notebook.questions():
        problem = q["name"][1]
        per_problem[problem] = per_problem.get(problem, 0) + q["points"]
    assert per_problem == {"1": 8, "2": 12, "3": 20, "4": 30, "5": 30}


@pytest.mark.route
def test_blank_notebook_runs_to_the_end_and_is_graded(graded_corpus):
    if "blank_student" not in graded_corpus:
        pytest.skip("not selected by HW1_CORPUS_ONLY")
    result = graded_corpus["blank_student"]
    assert sorted(result.scores) == sorted(QUESTIONS), "every question must be reported, even for a blank notebook"
    assert result.total == 0
    assert "kernel died" not in result.visible


def grader_source_lines():
    """Distinctive lines of the grader's checks and references: none may reach a student's results."""
    lines = set()
    for path in (ROOT / "assignment" / "hw1_trusted").glob("*.py"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if (
                len(line) >= 20
                and not line.startswith(("#", '"""', "raise Mismatch(", 'f"', '"'))
                and "Mismatch(" not in line
            ):
                lines.add(line)
    return lines


@pytest.mark.route
def test_failure_output_never_gives_an_answer_away(graded_corpus):
    """No check source, no reference formula, no traceback into grader code, no yes/no hint."""
    forbidden = grader_source_lines()
    for name, result in graded_corpus.items():
        for question in QUESTIONS:
            output = result.output(question)
            assert "Traceback" not in output and "hw1_trusted" not in output and 'File "' not in output, (
                name,
                question,
                output,
            )
            leaked = [line for line in forbidden if line in output]
            assert not leaked, f"{name} {question} shows grader source: {leaked}"
            for line in output.splitlines():  # numbers only about the student's own results
                if re.search(r"-?\d+\.\d{3,}", line):
                    assert re.search(r"accuracy|relative error", line), f"{name} {question} shows a number: {line}"
            if question == "q2b":
                assert not re.search(r"\b(True|False)\b", output), (
                    f"{name}: the q2b message gives the answer away: {output}"
                )


@pytest.mark.route
def test_every_results_json_is_valid_for_gradescope(graded_corpus):
    import json

    import jsonschema

    schema = json.loads((ROOT / "tests" / "schemas" / "gradescope_results.json").read_text())
    for name, result in graded_corpus.items():
        jsonschema.validate(result.raw, schema)
        assert result.raw["score"] == result.total <= result.possible, name
