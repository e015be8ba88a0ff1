"""What the student notebook says about grading is policy.py's: the bars, the time limits, when results appear.

The numbers are read back from the BUILT student notebook (its text and its public tests) and compared with
assignment/hw1_trusted/policy.py, which the grader itself reads.
"""

import ast
import re
import shutil
import types

import nbformat
import pytest

from tools import ROOT, errors
from tools.build import points

POLICY = points.load_policy(ROOT / "assignment")


@pytest.fixture(scope="module")
def student(fresh_release):
    return nbformat.read(fresh_release / "student" / "hw1.ipynb", as_version=4)


def markdown(nb):
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def seconds(amount, unit):
    return int(amount) * (60 if unit.startswith("minute") else 1)


@pytest.mark.release
def test_the_notebook_states_policys_bars(student):
    text = markdown(student)
    ((low, high),) = set(
        re.findall(
            r"earns half of the question's points at (\d+(?:\.\d+)?) and the other half at (\d+(?:\.\d+)?)", text
        )
    )
    assert (float(low), float(high)) == tuple(POLICY.P4_BARS)
    assert {float(b) for b in re.findall(r"test-accuracy bars, (\d+(?:\.\d+)?) and (\d+(?:\.\d+)?)", text)[0]} == set(
        POLICY.P4_BARS
    )
    assert re.findall(r"half at a test accuracy of (\d+(?:\.\d+)?) .*?the other half at (\d+(?:\.\d+)?)", text) == [
        (low, high)
    ]
    assert {float(b) for b in re.findall(r"must reach a MNIST test accuracy of (\d+(?:\.\d+)?)", text)} == {
        POLICY.P5_ACCURACY_BAR
    }
    assert {float(b) for b in re.findall(r"Q4's accuracy bar is (\d+(?:\.\d+)?)", text)} == {POLICY.P5_ACCURACY_BAR}


@pytest.mark.release
def test_the_notebook_states_policys_time_limits(student):
    text = markdown(student)
    limits = re.findall(
        r"every cell must\s+finish within (\d+) (minutes?|seconds),? and the whole notebook within (\d+) "
        r"(minutes?|seconds)",
        text.replace("**", ""),
    )
    assert len(limits) == 2, limits  # the introduction and Problem 4
    for cell_amount, cell_unit, nb_amount, nb_unit in limits:
        assert seconds(cell_amount, cell_unit) == POLICY.CELL_TIMEOUT
        assert seconds(nb_amount, nb_unit) == POLICY.PHASE_TIMEOUT


@pytest.mark.release
def test_the_notebook_says_when_hidden_results_appear(student):
    text = markdown(student)
    found = re.findall(r"the per-question results of\s+the hidden tests appear ([^.;]+)", text)
    assert found == [points.VISIBILITY_WORDS[POLICY.HIDDEN_RESULTS_VISIBILITY]], found
    assert "self-checks" in text and "hidden tests" in text


@pytest.mark.release
def test_the_public_checks_use_policys_bars(fresh_release):
    def literal(path, name):
        tree = ast.parse(path.read_text())
        (value,) = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            and any(
                getattr(t, "id", None) == name or (isinstance(t, ast.Tuple) and name in [e.id for e in t.elts])
                for t in node.targets
            )
        ]
        return ast.literal_eval(value)

    tests = fresh_release / "student" / "tests"
    assert tuple(literal(tests / "q4_acc.py", "low")) == tuple(POLICY.P4_BARS)
    assert literal(tests / "q5_4.py", "bar") == POLICY.P5_ACCURACY_BAR


@pytest.mark.parametrize("visibility", sorted(points.VISIBILITY_WORDS))
def test_the_text_follows_the_instructors_visibility_setting(visibility, tmp_path):
    # the build's fill on a copy of the master, with the instructor's one setting changed
    shutil.copyfile(ROOT / "assignment" / "hw1.ipynb", tmp_path / "hw1.ipynb")
    policy = types.SimpleNamespace(**{k: getattr(POLICY, k) for k in dir(POLICY) if k.isupper()})
    policy.HIDDEN_RESULTS_VISIBILITY = visibility
    policy.CELL_TIMEOUT, policy.P4_BARS = 90, (0.65, 0.875)
    points.fill_policy(tmp_path / "hw1.ipynb", policy)
    text = markdown(nbformat.read(tmp_path / "hw1.ipynb", as_version=4))
    assert f"the hidden tests appear {points.VISIBILITY_WORDS[visibility]}" in text.replace("\n", " ")
    assert "every cell must finish within 90 seconds" in text.replace("**", "")
    assert "at 0.65 and the other half at 0.875" in text
    assert "__" not in re.sub(r"`[^`]*`", "", text).replace("__init__", ""), "a token was left unfilled"


def test_an_unknown_visibility_stops_the_build(tmp_path):
    shutil.copyfile(ROOT / "assignment" / "hw1.ipynb", tmp_path / "hw1.ipynb")
    policy = types.SimpleNamespace(**{k: getattr(POLICY, k) for k in dir(POLICY) if k.isupper()})
    policy.HIDDEN_RESULTS_VISIBILITY = "immediately"
    with pytest.raises(errors.PointsError, match="HIDDEN_RESULTS_VISIBILITY"):
        points.fill_policy(tmp_path / "hw1.ipynb", policy)
