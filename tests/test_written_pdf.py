"""The written part as a PDF: Otter's export with filtering, through real pandoc and xelatex, read back with poppler.

Three PDFs, each checked for the layout the Gradescope outline expects (two pages per manual question,
question i from page 2i - 1, every title on its page), for only the manual questions, for rendered maths and
for embedded plots:

* the TAs' solutions PDF (``make pdfs``), from the executed solutions;
* the blank template for Gradescope, from the student notebook;
* a student's: the student notebook with written answers, maths, comments and two plots of its own, executed
  and saved, then its unchanged submission cell run in Jupyter: the code zip and ``hw1_written.pdf``.

The tests skip when the tools are missing, except where ``HW1_REQUIRE_TEX=1`` or ``CI`` is set: CI
installs them (``.ci/run``), so there they fail instead.
"""

import os
import pathlib
import re
import shutil
import zipfile

import nbformat
import pytest

from tools.build import master_notebook, pdfs
from tools.build import release as build_release
from tools.data_cache import data_environment
from tools.trusted import settings

NB = build_release.NOTEBOOK
QUESTIONS = pdfs.manual_questions()
BEGIN, END = re.compile(r"<!--\s*BEGIN QUESTION\s*-->"), re.compile(r"<!--\s*END QUESTION\s*-->")


@pytest.fixture(scope="module")
def tex_tools():
    missing = pdfs.missing_tools()
    if missing:
        message = f"{', '.join(missing)} not on PATH (Debian: apt-get install {pdfs.APT_PACKAGES})"
        if settings.REQUIRE_TEX.value() == "1" or os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(message + "; CI installs them in .ci/run, so these tests must run there")
        pytest.skip(message)


def question_cells(nb):
    """{manual question name: its cells}, as Otter's filter keeps them (between the markers otter assign wrote)."""
    names, current, found = iter(q["name"] for q in QUESTIONS), None, {}
    for cell in nb.cells:
        if cell.cell_type == "markdown" and END.search(cell.source):
            current = None
        if cell.cell_type == "markdown" and BEGIN.search(cell.source):
            current = next(names)
            found[current] = []
        if current is not None:
            found[current].append(cell)
    return found


def png_outputs(cells):
    return sum("image/png" in o.get("data", {}) for c in cells if c.cell_type == "code" for o in c.outputs)


# --- a student's notebook, filled in -------------------------------------------------------------------------


def written_answer(name):
    return (
        f"Answer to {name}: by the chain rule, $\\nabla_w \\|Xw - y\\|_2^2 = 2X^\\top (Xw - y)$, so\n\n"
        f"$$\\sum_{{i=1}}^n \\big(y_i - \\hat y_i\\big)^2 \\ge 0 \\quad\\text{{and}}\\quad \\sigma'(z) = \\sigma(z)\\,(1 - \\sigma(z)).$$\n\n"
        f"Comment on {name}: the model is confident where $p_{{\\max}} > 0.9$ and hesitates between shirts and pullovers."
    )


def plot_answer(name):
    return (
        "import matplotlib.pyplot as plt\n\n"
        "fig, ax = plt.subplots(figsize=(5, 3))\n"
        "ax.plot([1, 2, 3, 4], [0.92, 0.51, 0.42, 0.37], 'o-', label='train loss')\n"
        "ax.plot([1, 2, 3, 4], [0.81, 0.58, 0.55, 0.56], 's-', label='test loss')\n"
        f"ax.set(xlabel='epoch', ylabel='loss', title='{name}')\n"
        "ax.legend()\n"
        "plt.show()"
    )


def filled_student_notebook(student_notebook):
    """The student notebook with every manual question answered: Markdown with maths and comments, plots in code.

    The autograded questions stay as handed out (their cells fail when run): the PDF holds none of them.
    """
    nb = nbformat.read(student_notebook, as_version=4)
    for name, cells in question_cells(nb).items():
        answers = [c for c in cells if pdfs.ANSWER_TAG in c.metadata.get("tags", [])]
        assert answers, f"{name}: no answer cell in the student notebook"
        for cell in answers:
            cell.source = written_answer(name) if cell.cell_type == "markdown" else plot_answer(name)
    return nb


def submission_cell(nb):
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "grader.export(" in c.source]
    return cell


def run_submission_cell(folder, env):
    """The notebook's own grader and submission cells, unchanged, in a Jupyter kernel beside the saved hw1.ipynb.

    As a student does: the notebook was run and saved first, then the last cell is run. Returns its printed text.
    """
    nb = nbformat.read(folder / NB, as_version=4)
    (init,) = [c for c in nb.cells if c.cell_type == "code" and "otter.Notebook(" in c.source]
    submit = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(init.source), nbformat.v4.new_code_cell(submission_cell(nb).source)],
        metadata=nb.metadata,
    )
    path = folder / "submit-cell.ipynb"
    nbformat.write(submit, path)
    build_release.execute_notebook(path, env, export=True)
    outputs = nbformat.read(path, as_version=4).cells[1].outputs
    path.unlink()
    return "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


@pytest.fixture(scope="module")
def student_run(tex_tools, fresh_release, tmp_path_factory):
    """A filled student notebook, executed and saved with its outputs, then submitted: (folder, printed text)."""
    folder = tmp_path_factory.mktemp("written") / "hw1"
    shutil.copytree(fresh_release / "student", folder)
    nbformat.write(filled_student_notebook(folder / NB), folder / NB)
    env = data_environment(threads=1)
    build_release.execute_notebook(folder / NB, env, allow_errors=True)  # the export cell is skipped here
    return folder, run_submission_cell(folder, env)


@pytest.fixture(scope="module")
def solutions_pdf(tex_tools, fresh_release, tmp_path_factory):
    return pdfs.export(
        fresh_release / "solutions" / NB, tmp_path_factory.mktemp("pdfs") / "solutions.pdf", drop_placeholders=True
    )


@pytest.fixture(scope="module")
def blank_pdf(tex_tools, fresh_release, tmp_path_factory):
    return pdfs.export(fresh_release / "student" / NB, tmp_path_factory.mktemp("pdfs") / "blank.pdf")


@pytest.fixture(params=["solutions", "blank", "student"])
def made(request, fresh_release):
    """(kind, PDF, the notebook it was made from) for each kind of PDF."""
    if request.param == "solutions":
        return request.param, request.getfixturevalue("solutions_pdf"), fresh_release / "solutions" / NB
    if request.param == "blank":
        return request.param, request.getfixturevalue("blank_pdf"), fresh_release / "student" / NB
    folder, _ = request.getfixturevalue("student_run")
    return request.param, folder / "hw1_written.pdf", folder / NB


# --- the tests -----------------------------------------------------------------------------------------------


def test_the_pdf_questions_are_the_manual_questions_of_the_master():
    manual = [(q["name"], q["points"]) for q in master_notebook.questions() if q["manual"]]
    assert [(q["name"], q["points"]) for q in QUESTIONS] == manual and manual
    assert len({pdfs.title_text(q) for q in pdfs.questions()}) == len(pdfs.questions()), "two questions share a title"


def test_the_readme_gives_the_current_gradescope_outline():
    def lines(text):
        return "\n".join(line.strip() for line in text.splitlines())

    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert lines(pdfs.outline(QUESTIONS)) in lines(readme), (
        "README's Gradescope outline is stale: paste the one make pdfs prints"
    )


@pytest.mark.release
def test_student_submission_writes_the_code_zip_and_the_pdf(student_run):
    folder, printed = student_run
    assert "Wrote hw1_written.pdf" in printed and "Could not make" not in printed, printed
    (export,) = folder.glob("hw1_*.zip")
    with zipfile.ZipFile(export) as z:
        assert z.testzip() is None and "hw1.ipynb" in z.namelist()
        assert not [n for n in z.namelist() if n.endswith(".pdf")], "the PDF goes to HW1 written, not into the code zip"
        assert z.read("hw1.ipynb") == (folder / NB).read_bytes()


@pytest.mark.release
def test_one_question_per_page_start_and_the_expected_page_count(made):
    _, pdf, _ = made
    assert pdf.is_file()
    assert pdfs.page_count(pdf) == pdfs.PAGES_PER_QUESTION * len(QUESTIONS)
    assert pdfs.start_pages(pdf, QUESTIONS) == pdfs.expected_start_pages(QUESTIONS)
    assert pdfs.check(pdf, QUESTIONS) == []


@pytest.mark.release
def test_only_the_manual_questions_are_in_the_pdf(made):
    _, pdf, _ = made
    text = " ".join(" ".join(pdfs.page_texts(pdf)).split())
    for question in QUESTIONS:
        assert pdfs.title_text(question) in text, f"{question['name']} is missing"
    leaked = [q["name"] for q in pdfs.questions() if not q["manual"] and pdfs.title_text(q) in text]
    assert not leaked, f"autograded questions in the written PDF: {leaked}"
    assert "Problem 1" not in text and "Submission" not in text and "grader.check" not in text


@pytest.mark.release
def test_the_maths_is_typeset(made):
    kind, pdf, source = made
    regions = question_cells(nbformat.read(source, as_version=4))
    assert any("$" in c.source for cells in regions.values() for c in cells if c.cell_type == "markdown"), (
        "the questions should hold maths for this test to mean something"
    )
    text = "".join(pdfs.page_texts(pdf))
    assert "$" not in text, "raw $...$ left in the PDF: " + re.findall(r".{0,40}\$.{0,40}", text)[0]
    commands = re.findall(r".{0,30}\\[A-Za-z]+", text)
    assert not commands, f"raw LaTeX commands in the PDF: {commands[:3]}"
    assert "∇" in text, "the question texts' \\nabla should show as the symbol"
    assert any("Math" in font for font in pdfs.fonts(pdf)), "no maths font embedded"


@pytest.mark.release
def test_the_plots_are_embedded_on_their_questions_pages(made):
    kind, pdf, source = made
    regions = question_cells(nbformat.read(source, as_version=4))
    expected = {name: png_outputs(cells) for name, cells in regions.items() if png_outputs(cells)}
    found = pdfs.images(pdf)
    assert len(found) == sum(expected.values())
    starts = pdfs.expected_start_pages(QUESTIONS)
    for name, count in expected.items():
        pages = (starts[name], starts[name] + 1)
        assert sum(page in pages for page, _, _ in found) == count, f"{name}: its plot is not on pages {pages}"
    assert len(expected) == (0 if kind == "blank" else 2), expected  # the blank template has no plots


@pytest.mark.release
def test_the_students_answers_and_comments_are_on_their_questions_pages(student_run):
    folder, _ = student_run
    texts = [" ".join(t.split()) for t in pdfs.page_texts(folder / "hw1_written.pdf")]
    starts = pdfs.expected_start_pages(QUESTIONS)
    nb = nbformat.read(folder / NB, as_version=4)
    for name, cells in question_cells(nb).items():
        if any(c.cell_type == "markdown" and f"Answer to {name}:" in c.source for c in cells):
            pages = " ".join(texts[starts[name] - 1 : starts[name] + 1])
            assert (
                f"Answer to {name}: by the chain rule" in pages
                and f"Comment on {name}: the model is confident" in pages
            ), name
            assert "Type your answer here" not in pages


@pytest.mark.release
def test_a_latex_failure_is_told_and_the_code_zip_is_still_written(student_run, tmp_path):
    """Real xelatex fails on a broken formula; the cell says so in one sentence, and the zip is written."""
    folder = tmp_path / "hw1"
    shutil.copytree(student_run[0], folder, ignore=shutil.ignore_patterns("hw1_*.zip", "*.pdf"))
    nb = nbformat.read(folder / NB, as_version=4)
    answer = next(c for c in question_cells(nb)[QUESTIONS[0]["name"]] if pdfs.ANSWER_TAG in c.metadata.get("tags", []))
    answer.source += "\n\nA broken formula: $\\frac{1}{\\undefinedcommand x}$"
    nbformat.write(nb, folder / NB)
    printed = run_submission_cell(folder, data_environment(threads=1))
    assert "Could not make hw1_written.pdf (LaTeX failed" in printed and "File -> Print -> Save as PDF" in printed, (
        printed
    )
    assert not (folder / "hw1_written.pdf").exists()
    (export,) = folder.glob("hw1_*.zip")
    with zipfile.ZipFile(export) as z:
        assert z.testzip() is None and z.read("hw1.ipynb") == (folder / NB).read_bytes()
