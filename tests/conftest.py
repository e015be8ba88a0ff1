"""Session fixtures: the release is built once, the corpus is graded once, through the route."""

import contextlib
import json
import os
import pathlib

import nbformat
import pytest

from tests.corpus.graded import SUBMISSIONS
from tests.helpers import grading, shared
from tools.build import release as build_release
from tools.trusted import settings


def selected(entries, variable):
    """While developing: only the entries that the setting ``variable`` names (comma-separated), e.g. HW1_CORPUS_ONLY=solution,
    correct_float32; the tests of the others skip. Unset (as in CI): every entry."""
    names = [n for n in (variable.value() or "").split(",") if n]
    if not names:
        return entries
    unknown = set(names) - set(entries)
    if unknown:
        raise ValueError(f"{variable.name} names unknown entries: {sorted(unknown)}")
    return {name: entries[name] for name in names}


@pytest.fixture(scope="session")
def fresh_release(tmp_path_factory):
    """student/, solutions/, autograder/ built from the current sources by the real otter assign.

    The build also grades the solution through the route and fails unless it gets full marks.
    """
    reuse = settings.REUSE_RELEASE.value()  # while developing: a release built earlier from the same sources
    if reuse:
        return pathlib.Path(reuse)

    def build():
        out = tmp_path_factory.mktemp("release")
        with foreign_jupyter_first(tmp_path_factory.mktemp("foreign")):
            build_release.build(out)
        return out

    handoff = settings.RELEASE_HANDOFF.value()  # make test's layers, run at once, share one build
    return shared.built_once(pathlib.Path(handoff), build) if handoff else build()


STAND_INS = ("jupyter", "jupyter-nbconvert", "jupyter-execute", "python", "python3", "otter")


@contextlib.contextmanager
def foreign_jupyter_first(folder):
    """PATH and HOME as on an instructor's machine with another Python first (pyenv, conda, Homebrew): broken
    ``jupyter``, ``jupyter-nbconvert``, ``python3`` ... first on PATH, and a user kernel spec ``python3`` that runs
    the broken ``python3``. The build and the route it grades the solution through must run this environment's
    own programs (``sys.executable -m ...``), never a name looked up on PATH."""
    bin_dir, home = folder / "bin", folder / "home"
    bin_dir.mkdir()
    for name in STAND_INS:
        stand_in = bin_dir / name
        stand_in.write_text(f'#!/bin/sh\necho "foreign {name}: another environment\'s, not this one" >&2\nexit 3\n')
        stand_in.chmod(0o755)
    spec = home / ".local" / "share" / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [str(bin_dir / "python3"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    saved = {name: os.environ.get(name) for name in ("PATH", "HOME")}
    os.environ["PATH"] = f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    os.environ["HOME"] = str(home)
    try:
        yield bin_dir
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def fresh_zip(fresh_release):
    return fresh_release / "autograder" / build_release.ZIP_NAME


@pytest.fixture(scope="session")
def graded_corpus(fresh_release, fresh_zip, tmp_path_factory):
    """Every submission of the corpus, graded through the zip's run_autograder: {name: Result}."""
    folder = tmp_path_factory.mktemp("submissions")
    for name, submission in selected(SUBMISSIONS, settings.CORPUS_ONLY).items():
        nbformat.write(submission.build(fresh_release), folder / f"{name}.ipynb")
    return grading.grade_corpus_folder(folder, fresh_zip, jobs=2)


@pytest.fixture(scope="session")
def spy_result_dir(fresh_zip):
    """A notebook that probes its own sandbox, graded through the route: (results folder, Result)."""
    import tempfile

    from tests.test_route import QUICK, SPY, notebook
    from tools.grade import gradescope

    # under /tmp and traversable, as /autograder is on Gradescope: only the grader's own locks protect it
    out = pathlib.Path(tempfile.mkdtemp(prefix="hw1-spy-"))
    out.chmod(0o755)
    ag = out / "graded" / "autograder"  # where gradescope.run_as_gradescope lays it out
    path = out / "spy.ipynb"
    nbformat.write(notebook(SPY.format(ag=str(ag))), path)
    result = gradescope.run_as_gradescope(path, out / "graded", fresh_zip, user="hw1spy", extra_env=QUICK)
    return out / "graded" / "autograder" / "results", result
