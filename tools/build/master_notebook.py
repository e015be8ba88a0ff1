"""What the master notebook declares: questions, points, tests and solution text.

Read straight from ``assignment/hw1.ipynb`` so that tests and documentation
never keep a second list of questions.
"""

import re

import nbformat
import yaml

from tools import ASSIGNMENT

NOTEBOOK = "hw1.ipynb"  # the master's name, and the student's, the solutions' and the upload's
MASTER = ASSIGNMENT / NOTEBOOK
POINTS_TOKEN = "@points"  # in a Markdown cell: the points of its scope, written in by the build (tools/build/points.py)


def points_words(points):
    """3 -> "3 points", 1 -> "1 point": how the build writes points into the text."""
    return f"{points:g} point" + ("" if points == 1 else "s")


def _cells(master=MASTER):
    return nbformat.read(master, as_version=4).cells


def is_marker(cell, marker):
    """A raw cell of otter assign's format that starts with marker, e.g. "# BEGIN QUESTION"."""
    return cell.cell_type == "raw" and cell.source.lstrip().startswith(marker)


_raw = is_marker


def question_config(cell):
    """The settings of a ``# BEGIN QUESTION`` cell (name, points, manual, ...)."""
    return yaml.safe_load(cell.source.split("\n", 1)[1]) or {}


def questions(master=MASTER):
    """[{name, points, manual, prompt}] in notebook order; prompt: the question's first Markdown cell."""
    cells = _cells(master)
    found = []
    for i, cell in enumerate(cells):
        if is_marker(cell, "# BEGIN QUESTION"):
            config = question_config(cell)
            prompt = next((c.source for c in cells[i + 1 :] if c.cell_type == "markdown"), "")
            found.append(
                {
                    "name": config["name"],
                    "points": config.get("points", 0),
                    "manual": bool(config.get("manual")),
                    "prompt": prompt,
                }
            )
    return found


def autograded_questions(master=MASTER):
    return [q["name"] for q in questions(master) if not q["manual"]]


def _test_cells(master=MASTER):
    in_tests = False
    for cell in _cells(master):
        if _raw(cell, "# BEGIN TESTS"):
            in_tests = True
        elif _raw(cell, "# END TESTS"):
            in_tests = False
        elif in_tests and cell.cell_type == "code":
            yield cell.source


def test_function_names(hidden=None):
    """Names of the test functions; hidden=True/False selects hidden or public ones."""
    names = []
    for source in _test_cells():
        is_hidden = bool(re.search(r"^hidden:\s*true", source, flags=re.M))
        if hidden is None or hidden == is_hidden:
            names.append(re.search(r"^def (\w+)\(", source, flags=re.M).group(1))
    return names


def solution_lines(min_length=12):
    """Distinctive lines of solution text (solution code and written answers).

    Lines that the notebook also gives students elsewhere are left out: provided code
    (e.g. ``model.eval()``) and code quoted in a question's text.
    """
    solution, provided, in_solution_cells = set(), set(), False
    for cell in _cells():
        if _raw(cell, "# BEGIN SOLUTION"):
            in_solution_cells = True
            continue
        if _raw(cell, "# END SOLUTION"):
            in_solution_cells = False
            continue
        if cell.cell_type == "raw":
            continue
        block = False
        for line in cell.source.splitlines():
            stripped = line.replace("# SOLUTION", "").strip()
            if re.search(r"# BEGIN SOLUTION", line):
                block = True
            elif re.search(r"# END SOLUTION", line):
                block = False
            elif in_solution_cells and (cell.cell_type == "markdown" or block or line.rstrip().endswith("# SOLUTION")):
                solution.add(stripped)
            else:
                provided.add(stripped)
    given = "\n".join(provided)
    return sorted(line for line in solution - provided if len(line) >= min_length and line not in given)
