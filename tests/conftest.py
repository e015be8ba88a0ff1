"""Session fixtures: the release is built once, the corpus is graded once."""

import pathlib
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))

import build_release  # noqa: E402
import grading  # noqa: E402
from corpus import SUBMISSIONS  # noqa: E402


@pytest.fixture(scope="session")
def fresh_release(tmp_path_factory):
    """student/, solutions/, autograder/ built from the current sources by the real otter assign."""
    out = tmp_path_factory.mktemp("release")
    build_release.build(out)
    return out


@pytest.fixture(scope="session")
def fresh_zip(fresh_release):
    return fresh_release / "autograder" / build_release.ZIP_NAME


@pytest.fixture(scope="session")
def graded_corpus(fresh_release, fresh_zip, tmp_path_factory):
    """Every submission of the corpus, graded by otter run on the fresh zip: {name: GradingResult}."""
    folder = tmp_path_factory.mktemp("submissions")
    solutions = fresh_release / "solutions" / build_release.NOTEBOOK
    for name, submission in SUBMISSIONS.items():
        if submission.edits is None:  # the untouched student notebook
            nb = nbformat.read(fresh_release / "student" / build_release.NOTEBOOK, as_version=4)
        else:
            nb = grading.submission_from_solution(submission.edits, solutions)
        nbformat.write(nb, folder / f"{name}.ipynb")
    return grading.grade_folder(folder, fresh_zip, jobs=2)
