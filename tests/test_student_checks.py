"""grader.check in the student release: public tests only, as a student runs them."""

import shutil

import nbformat
import pytest

import build_release
import grading
import master_notebook
from data_cache import data_environment

NB = build_release.NOTEBOOK


def check_outputs(path):
    """{question: text that its grader.check cell printed}"""
    nb = nbformat.read(path, as_version=4)
    outputs = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith('grader.check("'):
            question = cell.source.split('"')[1]
            outputs[question] = "\n".join(
                o.get("text", "") + "".join(o.get("data", {}).get("text/plain", "")) + o.get("evalue", "")
                for o in cell.outputs
            )
    return outputs


@pytest.fixture(scope="module")
def student_folder(fresh_release, tmp_path_factory):
    """A copy of the student release: the notebook's folder with the public tests only."""
    folder = tmp_path_factory.mktemp("student") / "hw1"
    shutil.copytree(fresh_release / "student", folder)
    return folder


def test_public_checks_pass_for_a_correct_submission(student_folder, fresh_release):
    notebook = student_folder / NB
    nbformat.write(grading.submission_from_solution([], fresh_release / "solutions" / NB), notebook)
    build_release.execute_notebook(notebook, data_environment())
    outputs = check_outputs(notebook)
    questions = master_notebook.autograded_questions()
    assert sorted(outputs) == sorted(questions), "every autograded question needs a grader.check cell"
    for question in questions:
        assert "passed" in outputs[question] and "failed" not in outputs[question], f"{question}: {outputs[question]}"


def test_public_checks_report_failures_in_the_blank_notebook(student_folder, fresh_release):
    notebook = student_folder / "blank" / NB
    notebook.parent.mkdir()
    shutil.copytree(student_folder / "tests", notebook.parent / "tests")
    shutil.copyfile(fresh_release / "student" / NB, notebook)
    build_release.execute_notebook(notebook, data_environment(), allow_errors=True)
    outputs = check_outputs(notebook)
    for question in ("q1a", "q2a", "q3c", "q4_arch", "q5_3"):
        assert "failed" in outputs[question], f"{question}: {outputs[question]}"
