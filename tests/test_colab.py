"""The student notebook run as Colab runs it: the kernel in an empty folder, the notebook not on its disk, no
tests/ folder, and Colab's shell class (a stand-in google.colab package on the kernel's PYTHONPATH), by which
Otter recognises Colab. One execution of the solutions; every assertion reads it.

(Jupyter under another file name, "hw1 (1).ipynb": tests/test_student_checks.py.)
"""

import nbformat
import pytest

from tests.helpers import grading, self_check_runs
from tools.build import master_notebook

pytestmark = pytest.mark.release

NB = "hw1.ipynb"


@pytest.fixture(scope="module")
def colab_run(fresh_release, tmp_path_factory):
    folder = tmp_path_factory.mktemp("colab") / "content"  # Colab's working folder
    nb = grading.submission_from_solution([], fresh_release / "solutions" / NB)
    executed = self_check_runs.execute(nb, folder, colab=True)
    return folder, executed


def code_cell(nb, text):
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    return cell


def test_the_kernel_ran_as_on_colab_without_the_notebook_on_disk(colab_run):
    folder, nb = colab_run
    assert not list(folder.glob("*.ipynb")), "the notebook must not be on the kernel's disk"
    probe = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "from otter.check.utils import IPythonInterpreter\nprint(IPythonInterpreter.COLAB.value.running())"
            )
        ]
    )
    ran = self_check_runs.execute(probe, folder.parent / "probe", colab=True)
    assert "True" in self_check_runs.printed(ran.cells[0]), "Otter must recognise the stand-in as Colab"


def test_no_cell_raises_on_colab(colab_run):
    _, nb = colab_run
    errors = [
        (c.source[:60], o.get("ename"), o.get("evalue"))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors, errors


def test_every_self_check_runs_and_passes_on_colab(colab_run):
    folder, nb = colab_run
    found = self_check_runs.checks(nb)
    assert sorted(found) == sorted(master_notebook.autograded_questions())
    failing = {q: m for q, (ok, m) in found.items() if not ok}
    assert not failing, failing
    assert sorted(p.name for p in (folder / "tests").glob("*.py")), "the first cell writes tests/ beside the kernel"


def test_the_submission_cell_says_what_to_download_and_upload_on_colab(colab_run):
    folder, nb = colab_run
    printed = self_check_runs.printed(code_cell(nb, "grader.export("))
    assert (
        "File -> Download -> Download .ipynb, and upload that .ipynb to the HW1 autograder on Gradescope" in printed
    ), printed
    assert "File -> Print -> Save as PDF, upload that PDF to HW1 written" in printed, printed
    assert not list(folder.glob("*.zip")), "nothing is zipped on Colab"
