"""PDFs of the written part (the hand-graded questions), through Otter's own export with filtering.

    python -m tools.build.pdfs [--out pdfs] [--release .]      (make pdfs)

Writes, into ``pdfs/`` (ignored by git, never part of the release):

* ``hw1-written-solutions.pdf``: the written answers, maths and plots of the executed
  solutions (``solutions/hw1.ipynb``), for the TAs;
* ``hw1-written-blank.pdf``: the same pages from the student notebook, the template
  for Gradescope's written assignment;
* ``outline.txt``: the Gradescope question outline, read from the master notebook
  and checked against both PDFs' pages.

The PDFs come from ``otter.export.export_notebook(filtering=True, pagebreaks=True)``,
Otter's LaTeX route (nbconvert, pandoc, xelatex), as the student's submission cell
makes them. Otter's filter keeps what lies between the ``<!-- BEGIN QUESTION -->``
and ``<!-- END QUESTION -->`` markers that ``otter assign`` writes around each
manual question, and its LaTeX template starts each question on an odd page
(``\\cleartooddpage``): question i starts on page 2i - 1, and its even page holds an
answer that runs over or stays blank. So the PDF has 2 pages per manual question
while every answer fits in two pages.
"""

import argparse
import pathlib
import re
import shutil
import subprocess
import tempfile
import time

import nbformat

from tools import ROOT, errors
from tools.build import master_notebook
from tools.build.master_notebook import MASTER, NOTEBOOK, POINTS_TOKEN, points_words

PAGES_PER_QUESTION = 2  # Otter's template: \cleartooddpage after every question
TOOLS = ("pandoc", "xelatex", "pdfinfo", "pdftotext", "pdfimages", "pdffonts")
APT_PACKAGES = "pandoc texlive-xetex texlive-fonts-recommended texlive-plain-generic lmodern poppler-utils"
ANSWER_TAG = "otter_answer_cell"


def missing_tools():
    """The PDF tools that are not on PATH (Debian: apt-get install APT_PACKAGES)."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def questions(master=MASTER):
    """[{name, points, manual, title}] of every question, in notebook order.

    The title is the bold lead of the question's first Markdown cell, e.g. ``1(a), derivation (2 points).``,
    as the PDF shows it.
    """
    found = []
    for q in master_notebook.questions(master):
        text = q["prompt"].replace(POINTS_TOKEN, points_words(q["points"]))  # as the build fills it
        bold = re.match(r"\s*\*\*(.+?)\*\*", text, flags=re.S)
        if bold is None:
            raise ValueError(f"{q['name']}: its first Markdown cell should start with a bold title")
        found.append({"name": q["name"], "points": q["points"], "manual": q["manual"], "title": plain(bold.group(1))})
    return found


def manual_questions(master=MASTER):
    """The hand-graded questions, in notebook order: the PDF's questions."""
    return [q for q in questions(master) if q["manual"]]


def plain(markdown):
    """Markdown inline text as the PDF's text layer shows it (no emphasis or code marks, single spaces)."""
    return " ".join(re.sub(r"[*_`]", "", markdown).split())


def export(notebook, dest, drop_placeholders=False):
    """The written part of ``notebook`` as a PDF at ``dest``, by Otter's export with filtering and page breaks.

    ``drop_placeholders`` leaves out the "Type your answer here" cells (the solutions carry both).
    """
    from otter.export import export_notebook

    dest = pathlib.Path(dest).resolve()
    with tempfile.TemporaryDirectory(prefix="hw1-pdf-") as tmp:
        source = pathlib.Path(tmp) / NOTEBOOK
        nb = nbformat.read(notebook, as_version=4)
        if drop_placeholders:
            nb.cells = [
                c for c in nb.cells if not (c.cell_type == "markdown" and ANSWER_TAG in c.metadata.get("tags", []))
            ]
        nbformat.write(nb, source)
        export_notebook(str(source), dest=str(dest), exporter_type="latex", filtering=True, pagebreaks=True)
    return dest


def _run(*command):
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def page_count(pdf):
    return int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), flags=re.M).group(1))


def page_texts(pdf):
    """The text layer of every page (pdftotext), in page order."""
    return _run("pdftotext", "-layout", str(pdf), "-").split("\f")[: page_count(pdf)]


def images(pdf):
    """[(page, width, height)] of the raster images embedded in the PDF (pdfimages -list, without alpha masks)."""
    rows = _run("pdfimages", "-list", str(pdf)).splitlines()[2:]
    return [(int(r.split()[0]), int(r.split()[3]), int(r.split()[4])) for r in rows if r.split()[2] == "image"]


def fonts(pdf):
    return [line.split()[0] for line in _run("pdffonts", str(pdf)).splitlines()[2:]]


def title_text(question):
    """What of a question's title the PDF's text layer shows verbatim: the title up to any maths."""
    return question["title"].split("$")[0].strip()


def start_pages(pdf, questions):
    """{question name: the first page whose text holds its title} (None if no page does)."""
    texts = [" ".join(t.split()) for t in page_texts(pdf)]
    return {q["name"]: next((i + 1 for i, t in enumerate(texts) if title_text(q) in t), None) for q in questions}


def expected_start_pages(questions):
    return {q["name"]: PAGES_PER_QUESTION * i + 1 for i, q in enumerate(questions)}


def outline(questions):
    """The Gradescope outline: one question per manual question, with its points and pages."""
    lines = [f"{'#':>2}  {'pages':<6} {'points':>6}  title  (master question)"]
    for i, q in enumerate(questions):
        first = PAGES_PER_QUESTION * i + 1
        title = re.sub(r"\s*\(\d+ points?[^)]*\)\.?$", "", q["title"])  # the points have their own column
        lines.append(f"{i + 1:>2}  {f'{first}-{first + 1}':<6} {q['points']:>6}  {title}  ({q['name']})")
    lines.append(
        f"    total: {sum(q['points'] for q in questions)} points on {PAGES_PER_QUESTION * len(questions)} pages"
    )
    return "\n".join(lines) + "\n"


def check(pdf, questions):
    """Problems with a written-part PDF's layout: page count and where each question starts."""
    problems = []
    pages, expected = page_count(pdf), PAGES_PER_QUESTION * len(questions)
    if pages != expected:
        problems.append(f"{pdf.name}: {pages} pages, expected {expected} ({PAGES_PER_QUESTION} per manual question)")
    found, wanted = start_pages(pdf, questions), expected_start_pages(questions)
    problems += [
        f"{pdf.name}: {name} starts on page {found[name]}, expected {page}"
        for name, page in wanted.items()
        if found[name] != page
    ]
    return problems


def main():
    parser = argparse.ArgumentParser(
        prog="python -m tools.build.pdfs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=pathlib.Path, default=ROOT / "pdfs", help="where to write the PDFs (default: pdfs/)"
    )
    parser.add_argument(
        "--release", type=pathlib.Path, default=ROOT, help="the release holding student/ and solutions/"
    )
    args = parser.parse_args()
    missing = missing_tools()
    if missing:
        raise errors.PdfError(
            f"make pdfs needs {', '.join(missing)}: on Debian, apt-get install --no-install-recommends {APT_PACKAGES}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    questions = manual_questions()
    problems = []
    for name, notebook, drop in (
        ("hw1-written-solutions.pdf", args.release / "solutions" / NOTEBOOK, True),
        ("hw1-written-blank.pdf", args.release / "student" / NOTEBOOK, False),
    ):
        start = time.monotonic()
        pdf = export(notebook, args.out / name, drop_placeholders=drop)
        print(f"{pdf}: {page_count(pdf)} pages, {len(images(pdf))} images, {time.monotonic() - start:.1f} s")
        problems += check(pdf, questions)
    (args.out / "outline.txt").write_text(outline(questions))
    print(f"\nGradescope outline ({args.out / 'outline.txt'}):\n{outline(questions)}")
    if problems:
        raise errors.PdfError("the PDFs do not match the outline:\n" + "\n".join(problems))


if __name__ == "__main__":
    errors.run(main)
