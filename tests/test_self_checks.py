"""The public self-checks catch wrong answers without stating any, and never fail a correct style.

Run as a student runs them: the notebook in a real kernel beside the release's public tests only (no grading
route), each cut to what the checks need (Problems 1-3 and Problem 5 up to Q3; Problem 4's training is left
out, docs/checks.md's measured table covers it). The wrong answers are the corpus's own mutants
(tests/student_corpus.py), several per notebook where they change different cells.
"""

import pytest
import self_check_runs
import student_corpus

pytestmark = pytest.mark.release

# Wrong gradients (1(a), 3(b), 3(d)) and wrong backpropagation (Q5), each group in one notebook: the faults change
# different cells, and no check of one question uses another's answer (3(b)'s check puts centred differences in
# place of grad_f; 3(d)'s and Q3's use relu_net and forward_one, which are right here).
GROUPS = [
    ["q1a_no_factor_2", "q3b_sign", "q3d_missing_x", "q5_3_missing_y"],
    ["q1a_norm_not_squared", "q3b_no_factor_2", "q3d_W_O_pre_activation", "q5_3_sigmoid_prime_of_a"],
    ["q3b_mean", "q3d_b_O_zero", "q5_3_no_sigmoid_prime"],
    ["q5_3_output_sigmoid_prime"],
]
UP_TO = ["q1a", "q1b", "q2a", "q2a_shapes", "q2b", "q3a", "q3b", "q3c", "q3d", "q5_1", "q5_2", "q5_3"]
QUESTION = {"q1a": "q1a", "q3b": "q3b", "q3d": "q3d", "q5_3": "q5_3"}


def fault_question(mutant):
    return next(q for q in QUESTION if mutant.startswith(q + "_"))


@pytest.fixture(scope="module")
def runs(fresh_release, tmp_path_factory):
    """{label: {question: (passed, message)}} for the mutant groups and every correct style, two kernels at a time."""
    student = fresh_release / "student" / "hw1.ipynb"
    work = [
        (f"group{i}", self_check_runs.grouped_mutant(names, student), UP_TO, False) for i, names in enumerate(GROUPS)
    ]
    work += [
        (f"correct_{name}", student_corpus.build_correct(name, student), UP_TO, False)
        for name in student_corpus.CORRECT
    ]
    done = self_check_runs.run_many(work, fresh_release, tmp_path_factory.mktemp("self-checks"))
    return {label: found for label, (found, _) in done.items()}


@pytest.mark.parametrize("group", range(len(GROUPS)))
def test_wrong_gradients_are_caught_by_their_own_self_check(runs, group):
    found = runs[f"group{group}"]
    assert sorted(found) == sorted(UP_TO), f"not every check ran: {sorted(found)}"
    faulty = {fault_question(m) for m in GROUPS[group]}
    for question in faulty:
        passed, message = found[question]
        assert not passed, f"{question}: the self-check passed a wrong answer ({GROUPS[group]})"
        if question != "q5_3" or "train_one_sample" not in message:
            assert "gradient check failed" in message, f"{question}: {message}"
    others = {q: m for q, (ok, m) in found.items() if not ok and q not in faulty}
    assert not others, f"self-checks of questions without a fault failed: {others}"


@pytest.mark.parametrize("style", sorted(student_corpus.CORRECT))
def test_no_self_check_fails_on_a_correct_style(runs, style):
    found = runs[f"correct_{style}"]
    assert sorted(found) == sorted(UP_TO), f"not every check ran: {sorted(found)}"
    failing = {q: m for q, (ok, m) in found.items() if not ok}
    assert not failing, f"correct style {style}: {failing}"
