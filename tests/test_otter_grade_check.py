"""make otter-grade (tools/grade/otter_grade_check.py): where Docker, its engine or buildx is missing, it says which and
stops; its notebooks are the ones it promises. (It runs otter grade for real only where Docker is: not in CI.)"""

import subprocess
import sys

import nbformat

from tools import ROOT
from tools.grade import otter_grade_check


def stand_in(folder, name, script):
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def test_it_names_what_is_missing(tmp_path):
    no_engine = stand_in(tmp_path, "docker-no-engine", 'if [ "$1" = info ]; then exit 1; fi\nexit 0\n')
    assert [p.split(" (")[0] for p in otter_grade_check.missing(no_engine)] == ["a running Docker engine"]
    no_buildx = stand_in(tmp_path, "docker-no-buildx", 'if [ "$1" = buildx ]; then exit 1; fi\nexit 0\n')
    assert [p.split(" (")[0] for p in otter_grade_check.missing(no_buildx)] == ["the buildx plugin"]
    complete = stand_in(tmp_path, "docker-complete", "exit 0\n")
    assert otter_grade_check.missing(complete) == []


def test_without_docker_on_path_it_stops_saying_so():
    run = subprocess.run(
        [sys.executable, "-m", "tools.grade.otter_grade_check", "--out", "/tmp/hw1-otter-grade-unused"],
        cwd=ROOT, capture_output=True, text=True, env={"PATH": "/nonexistent"},
    )  # fmt: skip
    assert run.returncode == 2 and "missing" in run.stderr and "Docker" in run.stderr, run.stderr


def test_its_notebooks_are_the_solution_the_blank_one_and_one_mistake(tmp_path):
    paths = otter_grade_check.notebooks(tmp_path)
    assert set(paths) == set(otter_grade_check.NOTEBOOKS)
    mistake = nbformat.read(paths["one_mistake"], as_version=4)
    solution = nbformat.read(paths["solution"], as_version=4)
    differing = [(a.source, b.source) for a, b in zip(solution.cells, mistake.cells) if a.source != b.source]
    assert len(differing) == 1 and otter_grade_check.MISTAKE[1] in differing[0][1]
