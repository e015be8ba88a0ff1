"""ruff (ruff.toml) finds nothing and would reformat nothing: the suite, and so CI, fails on a lint finding."""

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


def test_ruff_finds_a_planted_problem(tmp_path):
    # the check can fail: an unused import and an unformatted line in a file under the same configuration
    planted = tmp_path / "planted.py"
    planted.write_text("import os\nx = [1,2]\n")
    config = ["--config", str(ROOT / "ruff.toml")]
    assert ruff("check", "--no-cache", *config, str(planted)).returncode == 1
    assert ruff("format", "--check", "--no-cache", *config, str(planted)).returncode == 1
