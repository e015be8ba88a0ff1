"""Real submissions graded by the real autograder (otter run on the freshly built zip)."""

import pytest

import master_notebook
from corpus import SUBMISSIONS

QUESTIONS = master_notebook.autograded_questions()
POINTS = {q["name"]: q["points"] for q in master_notebook.questions()}


def expected_points(submission, question):
    if submission.all_zero:
        return 0
    return submission.expected.get(question, POINTS[question])


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("name", sorted(SUBMISSIONS))
def test_question_score(graded_corpus, name, question):
    result = graded_corpus[name]
    assert result.max_scores[question] == POINTS[question], "the zip's points differ from the master notebook's"
    expected = expected_points(SUBMISSIONS[name], question)
    assert result.scores[question] == expected, (
        f"{name} ({SUBMISSIONS[name].why}) scored {result.scores[question]} on {question}, "
        f"expected {expected}:\n{result.output(question)}"
    )


def test_corpus_expectations_name_real_questions():
    for name, submission in SUBMISSIONS.items():
        unknown = set(submission.expected) - set(QUESTIONS)
        assert not unknown, f"{name} expects scores for unknown questions {unknown}"


def test_autograded_and_manual_points_add_up_to_the_handout():
    per_problem = {}
    for q in master_notebook.questions():
        problem = q["name"][1]
        per_problem[problem] = per_problem.get(problem, 0) + q["points"]
    assert per_problem == {"1": 8, "2": 12, "3": 20, "4": 30, "5": 30}


def test_blank_notebook_runs_to_the_end_and_is_graded(graded_corpus):
    result = graded_corpus["blank_student"]
    assert "Autograder Failed" not in str(result.raw), result.log
    assert sorted(result.scores) == sorted(QUESTIONS), "every question must be reported, even for a blank notebook"
    assert result.total == 0


def test_failure_messages_say_what_is_wrong_without_the_answer(graded_corpus):
    output = graded_corpus["p1_p2_wrong"].output("q1a")
    assert "grad_squared_norm on a random" in output
    output = graded_corpus["p4_wrong_arch_p5_sigmoid_derivative"].output("q4_arch")
    assert "the dense layers are" in output and "(128, 100)" in output
    output = graded_corpus["p1_p2_wrong"].output("q2b")
    assert "closed form" in output and "False" not in output, "the message must not give the answer away"
