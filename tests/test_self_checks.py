"""The public self-checks catch wrong answers without stating any, and never fail a correct style.

Run as a student runs them: the notebook in a real kernel beside the release's public tests only (no grading
route), each cut to what the checks need and trained for one epoch (Problem 4's accuracy bars are left out:
docs/checks.md's measured table covers them). The wrong answers are the corpus's own mutants
(tests/students.py), several per notebook where they change different cells: wrong gradients, and
functions that ignore what they are given (an argument, a learning rate, a seed), whose checks call them with
values of their own. A failed check names the student's own line, or no line: never one of the check's.
"""

import nbformat
import pytest

from tests.corpus import students
from tests.helpers import self_check_runs
from tools.build import master_notebook

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
# A function that ignores what it is handed: each group is a COMBINED notebook of the corpus; the sentence of
# its question's self-check that names the argument.
IGNORED = {
    "q4_train_epoch_global_optimizer": ("q4_train", "train_epoch did not change the model it was given"),
    "q4_test_epoch_global_loader": ("q4_train", "test_epoch went over the loader it was given 0 times"),
    "q4_notebook_loss_fn": ("q4_train", "train_epoch called the loss_fn it was given 0 times"),
    "q5_1_ignores_seed": ("q5_1", "init_params gives the same weights for the seeds 11 and 12"),
    "q5_1_global_generator": ("q5_1", "init_params used numpy's global generator"),
    "q5_2_forward_notebook_weights": (
        "q5_2",
        "forward_one gives the same losses for the notebook's network and for another",
    ),
    "q5_4_drops_learning_rate": ("q5_4", "pass on the learning_rate it was given"),
}
IGNORED_GROUPS = ["quick_mix_6", "quick_mix_7", "quick_mix_8"]
# a check that uses another question's function cannot work when that function ignores its arguments: it says so
CASCADES = {
    "q5_2_forward_notebook_weights": ("q5_3", "the gradient check needs a forward_one that computes with the weights")
}
EVERY = [q for q in master_notebook.autograded_questions() if q != "q4_acc"]  # 4(c)'s bars need the full training
# answers that raise inside the student's own function: the message quotes that line
RAISING = {
    "l1_loss": ("q2a", "return np.abs(X @ w - y).sum()", "return np.abs(X @ w - y).sum(axis=2)"),
    "init_params": ("q5_1", "size=(n_out, n_in)))", "size=(n_out, n_in, -1)))"),
}
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
    short = self_check_runs.short_training
    work += [
        (f"correct_{name}", short(students.build_correct(name, student)), EVERY, False) for name in students.CORRECT
    ]
    work += [
        (group, short(self_check_runs.grouped_mutant(students.COMBINED[group], student)), EVERY, False)
        for group in IGNORED_GROUPS
    ]
    raising = students.Mutant(
        base="quick",
        answers_override={key: students.Edit(old, new) for key, (_, old, new) in RAISING.items()},
        expected={},
        why="answers that raise",
    )
    answers = students.mutant_answers(raising)
    work.append(("raising", students.fill(nbformat.read(student, as_version=4), answers), ["q5_1"], False))
    done = self_check_runs.run_many(work, fresh_release, tmp_path_factory.mktemp("self-checks"))
    return {label: (found, texts) for label, (found, _, texts) in done.items()}


@pytest.mark.parametrize("group", range(len(GROUPS)))
def test_wrong_gradients_are_caught_by_their_own_self_check(runs, group):
    found, _ = runs[f"group{group}"]
    assert sorted(found) == sorted(UP_TO), f"not every check ran: {sorted(found)}"
    faulty = {fault_question(m) for m in GROUPS[group]}
    for question in faulty:
        passed, message = found[question]
        assert not passed, f"{question}: the self-check passed a wrong answer ({GROUPS[group]})"
        if question != "q5_3" or "train_one_sample" not in message:
            assert "gradient check failed" in message, f"{question}: {message}"
    others = {q: m for q, (ok, m) in found.items() if not ok and q not in faulty}
    assert not others, f"self-checks of questions without a fault failed: {others}"


@pytest.mark.parametrize("style", sorted(students.CORRECT))
def test_no_self_check_fails_on_a_correct_style(runs, style):
    found, _ = runs[f"correct_{style}"]
    found.pop("q4_acc")  # one epoch of training: below 4(c)'s bars
    assert sorted(found) == sorted(EVERY), f"not every check ran: {sorted(found)}"
    failing = {q: m for q, (ok, m) in found.items() if not ok}
    assert not failing, f"correct style {style}: {failing}"


@pytest.mark.parametrize("group", IGNORED_GROUPS)
def test_a_function_that_ignores_what_it_is_given_fails_its_own_self_check(runs, group):
    found, _ = runs[group]
    assert set(EVERY) <= set(found), f"not every check ran: {sorted(found)}"
    names = students.COMBINED[group]
    faults = {IGNORED[name][0]: IGNORED[name][1] for name in names}
    faults.update(CASCADES[name] for name in names if name in CASCADES)
    for question, sentence in faults.items():
        passed, message = found[question]
        assert not passed and sentence in message, f"{question}: {message}"
    others = {q: m for q, (ok, m) in found.items() if not ok and q not in faults and q != "q4_acc"}
    assert not others, f"self-checks of questions without a fault failed: {others}"


def test_a_failed_self_check_names_the_students_line_never_the_checks(runs):
    texts = {label: texts for label, (_, texts) in runs.items()}
    for label, checks in texts.items():
        for question, text in checks.items():
            assert "Error at line" not in text and "in test " not in text, f"{label} {question}: {text}"
    _, raised = runs["raising"]
    for function, (question, _, line) in RAISING.items():
        where = [t for t in raised[question].splitlines() if "(at this line of your" in t]
        assert where and all(f"(at this line of your {function}: " in t and line in t for t in where), raised[question]
    for question in ("q1a", "q3b", "q5_3"):  # wrong values, no error: no line at all
        failing = [
            t
            for label, checks in texts.items()
            if label.startswith("group")
            for q, t in checks.items()
            if q == question and "failed" in t
        ]
        assert failing and all("at this line" not in t for t in failing), (question, failing)


def test_the_recording_stand_in_leaves_the_notebook_as_it_found_it(fresh_release):
    # Q4's self-check puts a stand-in for train_one_sample in the notebook's namespace while it runs train_one_epoch:
    # afterwards the notebook's own function is back, or no name at all if it had none
    import numpy as np
    from otter.test_files import ExceptionTestFile

    checks = ExceptionTestFile.from_file(str(fresh_release / "student" / "tests" / "q5_4.py"))

    def train_one_epoch(X, Y, weights, biases, learning_rate=0.003):
        for x, y in zip(X, Y):
            env["train_one_sample"](x, y, weights, biases, learning_rate)

    def own(x, y, weights, biases, learning_rate=0.003):
        pass

    data = {"x_train": np.zeros((20, 784), dtype=np.uint8), "y_train": np.arange(20) % 10}
    for before in (None, own):
        env = {"train_one_epoch": train_one_epoch, **data, **({"train_one_sample": before} if before else {})}
        checks.run(env)
        assert ("train_one_sample" in env) == (before is not None) and env.get("train_one_sample") is before, env
        (contract,) = [r for r in checks.test_case_results if r.test_case.name == "q5_4 - 2"]  # the stand-in's check
        assert contract.passed, contract.message  # a right train_one_epoch passes it, whether or not the name existed
