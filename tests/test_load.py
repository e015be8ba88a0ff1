"""A grade never depends on the machine's load: time limits count the notebook's CPU seconds, threads follow the
CPU share a grading really has, and a notebook starved of CPU until the wall-clock cap is not graded (a grader
fault, graded again on a rerun), never Completed below full marks.

Each test grades the real solution through the built zip's run_autograder, beside real CPU hogs.
"""

import contextlib
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import machine, trusted_copy
from tools import ROOT
from tools.grade import gradebook, gradescope, pool
from tools.grade.submissions import Submission
from tools.trusted import settings

pytestmark = pytest.mark.route

route = trusted_copy.module("route")
record = trusted_copy.module("record")
SPIN = "while True:\n    pass\n"


@contextlib.contextmanager
def hogs(cpus, per_cpu):
    """``per_cpu`` processes that spin on each of ``cpus``, at the gradings' own priority, until the block ends."""
    started = []
    try:
        for cpu in cpus:
            for _ in range(per_cpu):
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-c", SPIN], preexec_fn=lambda cpu=cpu: os.sched_setaffinity(0, {cpu})
                    )
                )
        yield started
    finally:
        for process in started:
            process.kill()
            process.wait()


@pytest.fixture(scope="module", autouse=True)
def the_machine_to_ourselves():
    """make test runs other pytest processes beside the route's layer (tests/suite.py: a few minutes, from the start;
    these tests come many minutes later): they wait for them to have ended, as their hogs must be the only load."""
    for pid in settings.SHARED_WITH.value() or []:
        if not machine.wait_until_ended(pid, timeout=900):
            pytest.fail(f"a process beside the suite ({pid}, {settings.SHARED_WITH.name}) still runs after 15 minutes")


def solution(fresh_release):
    return fresh_release / "solutions" / "hw1.ipynb"


@pytest.mark.parametrize("others", [0, 2], ids=["one_cpu_busy", "both_cpus_busy"])
def test_a_correct_solution_starved_of_cpu_is_not_graded_never_graded_low(fresh_release, fresh_zip, tmp_path, others):
    # hogs share the grading's one CPU (and, busier, the other): it gets a part of it in the 25 s wall cap, against
    # the 28 CPU s the solution needs. The route sees the wait (the scheduler's run delay) and calls it a grader fault.
    # Both CPUs busy, it once got 0.59 of its share and waited 16 s: graded low while the bar was half its share.
    with hogs([0], 3 + bool(others)), hogs([1], others):
        result = gradescope.run_as_gradescope(
            solution(fresh_release), tmp_path / "out", fresh_zip, user="hw1busy", cpus="0",
            extra_env={"HW1_PHASE_WALL_CAP": "25"},
        )  # fmt: skip
    status = result.raw["extra_data"]["status"]
    assert (status["status"], status["reason"]) == ("grader_fault", route.BUSY), (status, result.raw["extra_data"])
    assert "the machine was too busy" in status["message"]
    results = tmp_path / "out" / "autograder" / "results"
    assert pool.classify(results, result, gradebook.autograder_id(fresh_zip))[0] == gradebook.FAILED  # graded again
    graded = record.read(results)
    assert (graded.status, graded.reason) == (record.Status.GRADER_FAULT, route.BUSY), graded
    assert result.total == 0 and all("the machine was too busy" in result.output(q) for q in result.tests)
    assert "nothing in your submission caused it" in result.output("q1a")


def test_a_sleeping_notebook_at_the_wall_cap_is_its_own_time_limit(fresh_zip, tmp_path):
    # waiting is the notebook's own doing, not the machine's: a time limit, graded. The cap comes from a copy of
    # the zip made by python -m tools.build.limits, as for otter grade (which passes no environment variable)
    import nbformat

    from tests.test_route import notebook
    from tools.build import limits

    path = tmp_path / "sleeper.ipynb"
    nbformat.write(notebook("l1_closed_form_exists = False", "import time\ntime.sleep(3600)"), path)
    slow_zip = tmp_path / "capped.zip"
    limits.with_limits(fresh_zip, slow_zip, {"HW1_PHASE_WALL_CAP": "10"})
    result = gradescope.run_as_gradescope(path, tmp_path / "out", slow_zip, user="hw1sleep")
    assert result.raw["extra_data"]["status"]["status"] == "completed", result.raw["extra_data"]
    assert result.raw["extra_data"]["isolation"]["time"]["stopped"] == "wall"
    assert result.raw["extra_data"]["isolation"]["time"]["wall_seconds"] < 40  # the zip's cap, not policy.py's
    assert result.scores["q2b"] == result.max_scores["q2b"]  # what was handed over before is graded
    assert "last-resort limit for the whole notebook" in result.visible and "waiting" in result.visible


def test_make_grade_with_more_jobs_than_cpus_beside_cpu_hogs_costs_no_correct_upload_a_point(
    fresh_release, fresh_zip, tmp_path
):
    folder = tmp_path / "uploads"
    folder.mkdir()
    for k in range(3):
        (folder / f"correct{k}.ipynb").write_bytes(solution(fresh_release).read_bytes())
    cpus = sorted(os.sched_getaffinity(0))
    submissions = [Submission(p.name, p) for p in sorted(folder.iterdir())]
    with hogs(cpus, 1):  # one hog per CPU, and 3 gradings on 2 CPUs
        rows = pool.run_pool(
            submissions, fresh_zip, gradebook.autograder_id(fresh_zip), len(cpus) + 1, 900, tmp_path / "out",
            user_base="hw1load",
        )  # fmt: skip
    for key, row in rows.items():
        assert row.status == gradebook.COMPLETED, (key, row.grading_status)
        assert row.result.total == row.result.possible, (key, row.result.failures())
        used = row.result.raw["extra_data"]["isolation"]["cgroup"]
        assert used["cpus"] == 1, used  # one CPU's worth each: pinned by make grade


def test_at_half_a_cpu_as_on_gradescope_the_solution_gets_full_marks(fresh_release, fresh_zip, tmp_path):
    sandbox = trusted_copy.module("sandbox")
    group, why = sandbox.Cgroup.create(f"hw1-halfcpu-{os.getpid()}", cpus=0.5)
    if group is None:
        pytest.skip(f"cannot create a cgroup here: {why}")
    try:
        subprocess.run(
            [sys.executable, "-m", "tools.grade.gradescope", str(solution(fresh_release)), str(tmp_path / "out"), "--zip",
             str(fresh_zip)],
            cwd=ROOT, check=True, capture_output=True, preexec_fn=group.join,
        )  # fmt: skip
    finally:
        group.remove()
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["score"] == sum(t["max_score"] for t in results["tests"] if "max_score" in t), results["score"]
    assert results["extra_data"]["isolation"]["cgroup"]["cpus"] == 0.5
