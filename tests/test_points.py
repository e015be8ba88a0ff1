"""Points are written once, in the master notebook's question settings; the build carries them everywhere."""

import json
import os
import re
import shutil
import zipfile

import nbformat
import pytest

from tests.corpus import students
from tools import ROOT, errors
from tools.build import master_notebook, points
from tools.build import release as build_release

NB = build_release.NOTEBOOK
CASES = build_release.hidden_checks(build_release.ASSIGNMENT).CASES


def changed_assignment(tmp_path, new_points=None, edit=None):
    """A copy of assignment/ whose master gives the questions new_points; edit(source) changes any cell."""
    assignment = tmp_path / "assignment"
    shutil.copytree(build_release.ASSIGNMENT, assignment, ignore=shutil.ignore_patterns("__pycache__"))
    nb = nbformat.read(assignment / NB, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            name = re.search(r"^name: (\w+)", cell.source, flags=re.M).group(1)
            if new_points and name in new_points:
                cell.source = re.sub(r"^points: .*$", f"points: {new_points[name]}", cell.source, flags=re.M)
        if edit:
            cell.source = edit(cell.source)
    nbformat.write(nb, assignment / NB)
    return assignment


def markdown_with(nb, text):
    (cell,) = [c for c in nb.cells if c.cell_type == "markdown" and text in c.source]
    return cell.source


def test_readme_points_section_is_generated_from_the_master():
    readme = (ROOT / "README.md").read_text()
    assert points.sync_readme(readme, build_release.ASSIGNMENT / NB, CASES) == readme, (
        "README's points section is stale: run make release"
    )


def test_master_text_carries_no_written_point_values():
    # every point value in the text is generated: a number typed into the master would go stale
    for cell in nbformat.read(build_release.ASSIGNMENT / NB, as_version=4).cells:
        if cell.cell_type == "markdown":
            assert not re.search(r"\(\d+ points?\b|· \d+ points", cell.source), cell.source[:120]


def test_committed_student_notebook_shows_every_questions_points():
    student = nbformat.read(ROOT / "student" / NB, as_version=4)
    text = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
    assert points.TOKEN not in text
    for problem, questions in points.by_problem(build_release.ASSIGNMENT / NB).items():
        total = sum(q["points"] for q in questions)
        assert re.search(rf"^## Problem {problem}:.*\({total} points\)", text, flags=re.M), problem
    assert "· 100 points" in text


@pytest.mark.route
@pytest.mark.skipif(os.geteuid() != 0, reason="grading through the route needs root")
def test_a_changed_point_value_reaches_text_headings_zip_readme_and_verdict(tmp_path):
    from tools.grade import gradescope

    # Problem 2 still adds up to 12; two autograded and two hand-graded questions change
    assignment = changed_assignment(tmp_path, {"q2a": 4, "q2a_shapes": 1, "q2b_written": 3, "q2c_written": 1})
    out = tmp_path / "release"
    build_release.build(out, assignment=assignment, solutions=False)

    student = nbformat.read(out / "student" / NB, as_version=4)
    assert "(4 points)" in markdown_with(student, "**2(a), code")
    assert "(1 point)" in markdown_with(student, "**2(a), shapes")
    assert "(3 points)" in markdown_with(student, "**2(b), written") and "(1 point)" in markdown_with(
        student, "**2(c), written"
    )
    assert "(12 points)" in markdown_with(student, "## Problem 2:")
    with zipfile.ZipFile(out / "autograder" / build_release.ZIP_NAME) as z:
        given = json.loads(z.read("files/hw1_trusted/points.json"))
        assert (given["q2a"], given["q2a_shapes"]) == (4, 1)
        assert (
            "points = 4" in z.read("tests/q2a.py").decode() and "points = 1" in z.read("tests/q2a_shapes.py").decode()
        )
    table = points.readme_block(assignment / NB, CASES)
    assert "| q2a | 4 | auto | l1 loss on random inputs: 4 |" in table
    assert "| q2a_shapes | 1 | auto | shapes for random sizes: 1 |" in table
    assert "| q2b_written | 3 | manual |" in table and "100 points: 73 autograded, 27 graded by hand" in table
    readme = points.sync_readme((ROOT / "README.md").read_text(), assignment / NB, CASES)
    assert re.search(r"^ +4 +7-8 +3 +2\(b\), written +\(q2b_written\)$", readme, flags=re.M), "the Gradescope outline"
    assert re.search(r"^ +5 +9-10 +1 +2\(c\), written +\(q2c_written\)$", readme, flags=re.M)

    # the verdict gives the new points: a student who answers 2(a) gets 4 + 1, and the other questions keep theirs
    answered = students.fill(student, {"l1_loss": students.L1_NORM, "l1_shapes": students.SHAPES_1D}, complete=False)
    nbformat.write(answered, tmp_path / "hw1.ipynb")
    result = gradescope.run_as_gradescope(
        tmp_path / "hw1.ipynb",
        tmp_path / "graded",
        out / "autograder" / build_release.ZIP_NAME,
        user="hw1points",
        extra_env={"HW1_PHASE_TIMEOUT": "240"},
    )
    assert (result.scores["q2a"], result.max_scores["q2a"]) == (4, 4), result.output("q2a")
    assert (result.scores["q2a_shapes"], result.max_scores["q2a_shapes"]) == (1, 1), result.output("q2a_shapes")
    assert result.max_scores["q4_acc"] == 10 and result.possible == 73
    assert "passed (4/4): l1 loss on random inputs" in result.output("q2a")


def test_build_refuses_problems_that_no_longer_add_up(tmp_path):
    assignment = changed_assignment(tmp_path, {"q2a": 4})
    with pytest.raises(
        errors.PointsError, match="Problem 2's questions add up to 13 points, but the handout gives it 12"
    ):
        build_release.prepare_sources(tmp_path / "build", assignment)


@pytest.mark.parametrize(
    "test, old, new, message",
    [
        (
            "test_q2a_returns_scalar",
            "points: 0",
            "points: 1",
            r"q2a: test_q2a_returns_scalar is a public test with points 1",
        ),
        (
            "test_q3c_probe",
            "hidden: true",
            "hidden: true\npoints: 2",
            r"q3c: test_q3c_probe is a hidden test that declares points",
        ),
    ],
)
def test_build_refuses_a_test_that_declares_points(tmp_path, test, old, new, message):
    def give_points(source):
        return source.replace(old, new) if f"def {test}(" in source else source

    assignment = changed_assignment(tmp_path, edit=give_points)
    with pytest.raises(errors.PointsError, match=message):
        build_release.prepare_sources(tmp_path / "build", assignment)


def test_check_points_are_shared_exactly():
    assert points.question_points(build_release.ASSIGNMENT / NB) == {
        q["name"]: q["points"] for q in master_notebook.questions() if not q["manual"]
    }
    checks = build_release.hidden_checks(build_release.ASSIGNMENT)
    assert checks.split(10, [1, 1]) == [5, 5]
    assert checks.split(4, [2, 1]) == [2.67, 1.33] and sum(checks.split(4, [2, 1])) == 4
    assert checks.split(1, [1, 1, 1]) == [0.33, 0.33, 0.34]
