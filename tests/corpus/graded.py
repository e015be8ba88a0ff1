"""The graded corpus: every submission the suite grades through the route, with its expected scores.

* the reference solution and the untouched student notebook;
* independent correct submissions, written fresh from the student notebook in styles the
  reference does not use (``students.CORRECT``): each must get every autograded point;
* single-fault submissions (``students.MUTANTS``), several per notebook when their faults
  touch disjoint questions (``students.COMBINED``): each declares the points it must get on
  the questions its fault touches; every question it does not list must get full marks.

Every entry is built from the freshly built release, so the corpus follows the notebook.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import nbformat

from tests.corpus import students
from tools.build import release as build_release


@dataclass
class Submission:
    build: Callable  # (release folder) -> notebook node
    expected: dict = field(default_factory=dict)  # {question: points}; unlisted -> full marks
    all_zero: bool = False  # every autograded question scores 0
    why: str = ""


def _student(release):
    return release / "student" / build_release.NOTEBOOK


SUBMISSIONS = {
    "solution": Submission(
        lambda r: nbformat.read(r / "solutions" / build_release.NOTEBOOK, as_version=4),
        why="the reference solution gets every autograded point",
    ),
    "blank_student": Submission(
        lambda r: nbformat.read(_student(r), as_version=4),
        all_zero=True,
        why="the untouched student notebook runs to the end and gets 0",
    ),
}
for _name, _style in students.CORRECT.items():
    SUBMISSIONS[f"correct_{_name}"] = Submission(
        lambda r, n=_name: students.build_correct(n, _student(r)), why=_style.why
    )
# mutants that break disjoint questions share one notebook; each question is broken by one fault at most
for _name in students.COMBINED:
    _mutant = students.combined_mutant(_name)
    SUBMISSIONS[f"mutants_{_name}"] = Submission(
        lambda r, n=_name: students.build_combined(n, _student(r)), expected=_mutant.expected, why=_mutant.why
    )
