"""The corpora's one filling engine (tests/corpus/filling.py): what the cheats and the graded corpus build on."""

import nbformat
import pytest

from tests.corpus import cheats, filling, students


@pytest.fixture(scope="module")
def student():
    return nbformat.read(cheats.STUDENT_NOTEBOOK, as_version=4)


def test_the_cheats_and_the_corpus_read_the_masters_points():
    assert cheats.POINTS == students.AUTOGRADED == filling.autograded_points()
    assert sum(cheats.POINTS.values()) == 73  # the handout's autograded total (README, Points)


def test_every_placeholder_cell_is_filled_or_the_fill_stops(student):
    with pytest.raises(filling.FillError, match="placeholder cells left unfilled"):
        filling.fill(student, {"grad_squared_norm": filling.Slots("return 2 * x")})
    with pytest.raises(filling.FillError, match="must name exactly one placeholder cell"):
        filling.fill(student, {"no_such_name": "pass\n"}, complete=False)


def test_blanks_fill_only_the_cells_that_hold_nothing_but_the_placeholder(student):
    nb = filling.fill(student, {}, complete=False, blanks="pass\n")
    blank = [i for i in filling.placeholder_cells(student) if student.cells[i].source.strip() == "..."]
    assert blank and all(nb.cells[i].source == "pass\n" for i in blank)
    assert filling.placeholder_cells(nb) == [i for i in filling.placeholder_cells(student) if i not in blank]
    assert [c.source for i, c in enumerate(nb.cells) if i not in blank] == [
        c.source for i, c in enumerate(student.cells) if i not in blank
    ]
