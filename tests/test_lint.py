"""ruff (ruff.toml) finds nothing and would reformat nothing, and mypy (mypy.ini) finds no type error: the suite,
and so CI, fails on a lint finding."""

import subprocess
import sys

from tools import ROOT


def ruff(*args):
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check_is_clean():
    run = ruff("check", "--no-cache", ".")
    assert run.returncode == 0, f"ruff check found problems (make lint):\n{run.stdout}{run.stderr}"


def test_ruff_format_leaves_every_file_as_it_is():
    run = ruff("format", "--check", "--no-cache", ".")
    assert run.returncode == 0, f"ruff format would change files (run ruff format .):\n{run.stdout}{run.stderr}"


def mypy(*args):
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True)


def test_mypy_is_clean():
    run = mypy()  # as make lint runs it: its incremental cache (.mypy_cache/) makes a rerun take about a second
    assert run.returncode == 0, f"mypy found type errors (make lint):\n{run.stdout}{run.stderr}"


def test_mypy_finds_a_planted_problem(tmp_path):
    # the check can fail: a strictly checked module (mypy.ini) with an unannotated function and a wrong type
    planted = tmp_path / "errors.py"
    planted.write_text("def untyped(x):\n    return x\n\n\ncount: int = 'three'\n")
    run = mypy("--no-incremental", "--cache-dir=/dev/null", "--config-file", str(ROOT / "mypy.ini"), str(planted))
    assert run.returncode == 1 and "incompatible types" in run.stdout.lower(), run.stdout


def test_ruff_finds_a_planted_problem(tmp_path):
    # the check can fail: an unused import and an unformatted line in a file under the same configuration
    planted = tmp_path / "planted.py"
    planted.write_text("import os\nx = [1,2]\n")
    config = ["--config", str(ROOT / "ruff.toml")]
    assert ruff("check", "--no-cache", *config, str(planted)).returncode == 1
    assert ruff("format", "--check", "--no-cache", *config, str(planted)).returncode == 1
