"""docs/recipes.md cannot go stale: every autograded question of the master appears in each file that the recipe
"Add a question" names, as its last column says, and every file and path that the page names exists."""

import re

import pytest

from tools import ROOT
from tools.build import master_notebook

RECIPES = ROOT / "docs" / "recipes.md"


def add_a_question_rows():
    """[(file, [patterns])] of the table under "## Add a question"."""
    section = RECIPES.read_text().split("## Add a question", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 3 and cells[0].startswith("`"):
            patterns = [p.replace("\\|", "|") for p in re.findall(r"`((?:[^`\\]|\\.)+)`", cells[2])]
            rows.append((cells[0].strip("`"), patterns))
    return rows


def test_the_recipe_names_the_places_of_a_question():
    files = [name for name, _ in add_a_question_rows()]
    assert len(files) >= 9, files
    for name in ("assignment/hw1.ipynb", "assignment/hw1_probes.py", "assignment/hw1_trusted/checks/"):
        assert name in files, f"the recipe must name {name}"


@pytest.mark.parametrize("question", master_notebook.autograded_questions())
def test_every_question_appears_where_the_recipe_says(question):
    for name, patterns in add_a_question_rows():
        path = ROOT / name
        text = "\n".join(p.read_text() for p in sorted(path.glob("*.py"))) if path.is_dir() else path.read_text()
        if name.endswith(".ipynb"):
            import nbformat

            text = "\n".join(cell.source for cell in nbformat.read(ROOT / name, as_version=4).cells)
        assert patterns, f"{name}: the recipe gives no pattern"
        for pattern in patterns:
            assert "{q}" in pattern, f"{name}: the pattern {pattern!r} does not name the question"
            assert pattern.replace("{q}", question) in text, f"{name} lacks {pattern.replace('{q}', question)!r}"


def test_every_path_the_page_names_exists():
    named = set(re.findall(r"`((?:assignment|tools|tests|docs)/[\w./-]+)`", RECIPES.read_text()))
    assert named, "the page names no file"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"docs/recipes.md names files that do not exist: {missing}"
