"""grader.check in the student release: public tests only, as a student runs them."""

import pathlib
import shutil
import sys

import nbformat
import pytest

from tests.helpers import grading
from tools.build import master_notebook
from tools.build import release as build_release
from tools.data_cache import data_environment

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


def outputs_without_timing(path):
    """Each code cell's outputs as text (streams joined, timings masked) and image bytes.

    The export cell is left out: the build skips it, the student's run makes a zip.
    """
    cells = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or "grader.export(" in cell.source:
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        data = [(k, str(v)) for o in cell.outputs for k, v in sorted(o.get("data", {}).items())]
        cells.append((build_release.TIMING.sub("(… s)", text), data))  # as the build masks them
    return cells


RENAMED = "hw1 (1).ipynb"  # as a browser names a second download


@pytest.fixture(scope="module")
def executed_correct_submission(fresh_release, tmp_path_factory):
    """The solutions, run in Jupyter under another file name: the notebook alone in its folder (no tests/),
    and no pandoc, LaTeX or browser on PATH; its export cell runs too. (Colab: tests/test_colab.py.)"""
    folder = tmp_path_factory.mktemp("lone") / "hw1"
    folder.mkdir()
    notebook = folder / RENAMED
    nbformat.write(grading.submission_from_solution([], fresh_release / "solutions" / NB), notebook)
    env = data_environment(threads=1)
    env["PATH"] = str(pathlib.Path(sys.executable).parent)  # the environment's own tools only
    build_release.execute_notebook(notebook, env, export=True)
    return notebook


@pytest.mark.release
def test_first_cell_writes_the_public_tests_when_the_notebook_is_alone(executed_correct_submission, fresh_release):
    written = sorted(p.name for p in (executed_correct_submission.parent / "tests").glob("*.py"))
    assert written == sorted(p.name for p in (fresh_release / "student" / "tests").glob("*.py"))
    for path in (executed_correct_submission.parent / "tests").glob("*.py"):
        assert path.read_text() == (fresh_release / "student" / "tests" / path.name).read_text()


@pytest.mark.route
def test_export_without_pandoc_or_latex_gives_a_zip_the_route_grades_in_full(
    executed_correct_submission, fresh_zip, tmp_path
):
    import zipfile

    from tools.grade import gradescope

    (export,) = executed_correct_submission.parent.glob("hw1 (1)_*.zip")
    with zipfile.ZipFile(export) as z:
        assert z.testzip() is None and RENAMED in z.namelist()
    result = gradescope.run_as_gradescope(export, tmp_path / "graded", fresh_zip, user="hw1export")
    assert result.total == result.possible, result.failures()


@pytest.mark.release
def test_export_without_pandoc_or_latex_says_how_to_make_the_pdf(executed_correct_submission):
    # the written part's PDF fails without the tools: one sentence on what to do, no error, and the zip above is written
    nb = nbformat.read(executed_correct_submission, as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "grader.export(" in c.source]
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    assert (
        "Could not make hw1_written.pdf (it needs pandoc and LaTeX" in printed
        and "File -> Print -> Save as PDF" in printed
    ), printed
    assert not [o for o in cell.outputs if o.output_type == "error"]
    assert not list(executed_correct_submission.parent.glob("*.pdf"))


@pytest.mark.release
def test_solution_runs_are_identical_apart_from_timing(executed_correct_submission, fresh_release):
    # two executions of the same notebook on one machine: the build's and this one
    assert outputs_without_timing(executed_correct_submission) == outputs_without_timing(
        fresh_release / "solutions" / NB
    )


@pytest.mark.release
def test_public_checks_pass_for_a_correct_submission(executed_correct_submission):
    outputs = check_outputs(executed_correct_submission)
    questions = master_notebook.autograded_questions()
    assert sorted(outputs) == sorted(questions), "every autograded question needs a grader.check cell"
    for question in questions:
        assert "passed" in outputs[question] and "failed" not in outputs[question], f"{question}: {outputs[question]}"


@pytest.mark.release
def test_public_checks_report_failures_in_the_blank_notebook(student_folder, fresh_release):
    notebook = student_folder / "blank" / NB
    notebook.parent.mkdir()
    shutil.copytree(student_folder / "tests", notebook.parent / "tests")
    shutil.copyfile(fresh_release / "student" / NB, notebook)
    build_release.execute_notebook(notebook, data_environment(), allow_errors=True)
    outputs = check_outputs(notebook)
    assert sorted(outputs) == sorted(master_notebook.autograded_questions())
    for question, text in outputs.items():
        # every check fails on the blank notebook, with a sentence (an unanswered question says so), not a raw error
        assert "failed" in text, f"{question}: {text}"
        assert "not answered yet" in text or "needs" in text, f"{question}: {text}"
        assert "Error at line" not in text, f"{question}: a line of the check's own source is quoted: {text}"
        assert not any(f"{raw}:" in text for raw in ("TypeError", "AttributeError", "NameError", "KeyError")), (
            f"{question}: {text}"
        )


@pytest.mark.release
def test_submission_cell_under_another_name_zips_that_file_at_once_and_quietly(executed_correct_submission):
    # any file name: the zip holds the saved notebook under its own name; the cell does not rerun the notebook
    # (Gradescope does), so no "Running your submission" and no kernel warning about TCP reach the student
    nb = nbformat.read(executed_correct_submission, as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "grader.export(" in c.source]
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    (export,) = executed_correct_submission.parent.glob("hw1 (1)_*.zip")
    assert f"Wrote {export.name} from the saved {RENAMED}: upload it to the HW1 autograder" in printed, printed
    assert "Running your submission" not in printed and "without encryption" not in printed, printed
    assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], cell.outputs
    (init,) = [c for c in nb.cells if c.cell_type == "code" and "otter.Notebook(" in c.source]
    assert not init.outputs, init.outputs
