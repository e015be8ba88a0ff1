"""The grading route itself: isolation of the student's phase, uploads of every kind, crashes.

Each test grades a real upload through the built zip's own run_autograder, as root, with the
student's notebook running as an unprivileged user (tools.grade.gradescope.run_as_gradescope).
"""

import json
import os
import pwd
import re
import subprocess
import sys
import zipfile

import nbformat
import pytest

from tests.helpers import grading, trusted_copy
from tools.build import master_notebook
from tools.build import release as build_release
from tools.grade import gradescope

ROOT = build_release.ROOT
POINTS = {q["name"]: q["points"] for q in master_notebook.questions() if not q["manual"]}
record = trusted_copy.module("record")
QUICK = {"HW1_PHASE_TIMEOUT": "240", "HW1_PHASE_WALL_CAP": "240"}


def notebook(*sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["otter"] = {"assignment_name": "hw1"}
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


SPY = r"""
import os, pathlib, subprocess, sys
AG = pathlib.Path({ag!r})
findings = {{"uid is not 0": os.getuid() != 0}}

def denied(action):  # in its namespaces the grader's folders do not even exist; without them, they are locked
    try:
        action()
        return False
    except (PermissionError, FileNotFoundError):
        return True

findings["hidden checks unreadable"] = denied(lambda: (AG / "source" / "files" / "hw1_trusted" / "checks" / "p5.py").read_text())
findings["secret seed unreadable"] = denied(lambda: (AG / "source" / "files" / "hw1_trusted" / "secret_seed").read_text())
findings["source folder unlistable"] = denied(lambda: list((AG / "source").iterdir()))
findings["submission metadata unreadable"] = denied(lambda: (AG / "submission_metadata.json").read_text())
findings["results not writable"] = denied(lambda: (AG / "results" / "results.json").write_text("{{}}"))
# a detached process that outlives the notebook would rewrite the results later, if it could survive
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(findings)
l1_closed_form_exists = not all(findings.values())  # the right answer only if every door was shut
"""


@pytest.fixture(scope="module")
def spy_result(spy_result_dir):
    return spy_result_dir[1]


@pytest.mark.route
def test_student_phase_runs_unprivileged_and_cannot_reach_the_grader(spy_result):
    # q2b is worth its point only if every assertion of the spy held inside the student phase
    assert spy_result.scores["q2b"] == POINTS["q2b"], spy_result.output("q2b")
    assert spy_result.total == POINTS["q2b"]


@pytest.mark.route
def test_no_process_of_the_student_survives_the_phase(spy_result):
    uid = pwd.getpwnam(gradescope.sandbox_user("hw1spy")).pw_uid
    alive = subprocess.run(["pgrep", "-u", str(uid)], capture_output=True, text=True).stdout.split()
    assert alive == [], f"processes of the sandbox user survived: {alive}"
    if not spy_result.raw["extra_data"].get("isolation", {}).get("namespaces"):  # else they end with its PID namespace
        assert "were stopped when it ended" in spy_result.visible


@pytest.mark.route
def test_results_carry_the_autograder_stamp(spy_result, fresh_zip):
    with zipfile.ZipFile(fresh_zip) as z:
        stamp = z.read(build_release.STAMP).decode()
    assert spy_result.raw["extra_data"]["autograder"] == stamp
    assert stamp[:12] in spy_result.visible


KILLER = r"""
import os, signal, glob
# try to end every process this user may signal, and to read any other grading's sandbox
for pattern in ("/tmp/hw1-sandbox-*/handover/*", "/tmp/hw1-trusted-*/*"):
    for path in glob.glob(pattern):
        try:
            open(path, "rb").read()
            raise SystemExit("read another grading's files: " + path)
        except PermissionError:
            pass
try:
    os.kill(-1, signal.SIGKILL)
except ProcessLookupError:
    pass
"""


@pytest.mark.route
def test_two_gradings_at_once_stay_isolated(fresh_zip, tmp_path_factory):
    # the honest partner is a quick partial notebook: the solution is graded in full elsewhere (build, corpus, export)
    folder = tmp_path_factory.mktemp("pair")
    nbformat.write(notebook(KILLER), folder / "a_killer.ipynb")
    nbformat.write(crash_notebook("x = 1"), folder / "b_honest.ipynb")
    results = grading.grade_corpus_folder(folder, fresh_zip, jobs=2)
    honest = results["b_honest"]
    assert honest.total == POINTS["q1a"] + POINTS["q2b"], honest.visible + "\n" + honest.failures()
    assert results["a_killer"].total == 0


@pytest.mark.route
def test_inputs_that_cannot_be_drawn_grade_nothing_and_run_nothing_of_the_student(fresh_zip, tmp_path):
    # the trusted process that draws the inputs (and later makes the verdict) fails on missing datasets: the route
    # says so in its own words, runs no student phase and leaves no trusted process or cgroup behind
    empty = tmp_path / "no-data"
    empty.mkdir()
    result = gradescope.run_as_gradescope(
        gradescope.SOLUTIONS,
        tmp_path / "out",
        fresh_zip,
        user="hw1nodata",
        extra_env={**QUICK, "HW1_DATA_ROOT": str(empty)},
    )
    assert result.total == 0 and sorted(result.scores) == sorted(POINTS)
    assert all("could not prepare its inputs" in result.output(q) for q in POINTS), result.failures()
    assert "isolation" not in result.raw["extra_data"]  # the student phase never started
    user = gradescope.sandbox_user("hw1nodata")
    leftover = subprocess.run(
        ["pgrep", "-f", f"{tmp_path}/out/autograder"], capture_output=True, text=True
    ).stdout.split()
    assert leftover == [], leftover
    groups = subprocess.run(
        ["find", "/sys/fs/cgroup", "-name", f"hw1-{user}-*"], capture_output=True, text=True
    ).stdout.split()
    assert groups == [], groups


BAD_UPLOADS = {
    "empty.ipynb": (b"", "is empty"),
    "notes.txt": (b"my answers are in the notebook", "holds no notebook"),
    "broken.zip": (b"PK\x03\x04 not really a zip", "not a valid zip file"),
    "hw1.ipynb": (b'{"cells": [', "not a valid Jupyter notebook"),
}


@pytest.mark.route
@pytest.mark.parametrize("name", sorted(BAD_UPLOADS))
def test_bad_upload_gets_zero_and_one_clear_sentence(name, fresh_zip, tmp_path):
    data, phrase = BAD_UPLOADS[name]
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / name).write_bytes(data)
    result = gradescope.run_as_gradescope(upload, tmp_path / "out", fresh_zip, extra_env=QUICK)
    assert result.total == 0 and sorted(result.scores) == sorted(POINTS)
    assert phrase in result.visible and "Upload your hw1.ipynb" in result.visible, result.visible
    graded = record.read(tmp_path / "out" / "autograder" / "results")  # the typed record, written once
    assert (graded.status, graded.reason) == (record.Status.REJECTED, "upload") and phrase in graded.message
    assert not any(q.judged for q in graded.questions)


@pytest.mark.route
def test_two_notebooks_are_refused(fresh_zip, tmp_path):
    upload = tmp_path / "upload"
    upload.mkdir()
    for name in ("hw1.ipynb", "hw1 (1).ipynb"):
        nbformat.write(notebook("x = 1"), upload / name)
    result = gradescope.run_as_gradescope(upload, tmp_path / "out", fresh_zip, extra_env=QUICK)
    assert result.total == 0 and "2 .ipynb files" in result.visible, result.visible


@pytest.mark.route
def test_plain_otter_run_is_not_a_grading_route(fresh_release, fresh_zip, tmp_path):
    """Otter's own runner executes the probes in the student's kernel: they refuse, so it grades nothing."""
    solution = fresh_release / "solutions" / build_release.NOTEBOOK
    subprocess.run(
        [
            gradescope.PYTHON,
            "-m",
            "otter",
            "run",
            "--no-logo",
            "-a",
            str(fresh_zip),
            "-o",
            str(tmp_path),
            str(solution),
        ],
        capture_output=True,
        text=True,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert sum(t.get("score", 0) for t in results["tests"]) == 0


def crash_notebook(crash):
    return notebook(
        "import otter\ngrader = otter.Notebook('hw1.ipynb')\nimport numpy as np",
        "def grad_squared_norm(x):\n    return 2 * x",
        'grader.check("q1a")',
        crash,
        "l1_closed_form_exists = False",
        'grader.check("q2b")',
    )


@pytest.mark.parametrize(
    "crash, survives",
    [
        ("import os; os._exit(3)", False),
        ("while True:\n    pass", True),
        ("raise RuntimeError('boom')", True),
        ("import sys; sys.exit(1)", True),  # the kernel turns SystemExit into an error in that cell and goes on
    ],
)
@pytest.mark.route
def test_a_crash_costs_only_what_depends_on_it(crash, survives, fresh_zip, tmp_path):
    path = tmp_path / "crash.ipynb"
    nbformat.write(crash_notebook(crash), path)
    result = gradescope.run_as_gradescope(
        path, tmp_path / "out", fresh_zip, extra_env={**QUICK, "HW1_CELL_TIMEOUT": "5"}
    )
    assert result.scores["q1a"] == POINTS["q1a"], "answers handed over before the crash are kept"
    assert result.scores["q2b"] == (POINTS["q2b"] if survives else 0)
    assert result.total == result.scores["q1a"] + result.scores["q2b"]
    if not survives:  # the route's own observation; which cell, a record of the student's, is not quoted
        assert "kernel died" in result.visible and "os._exit(3)" not in result.visible, result.visible
    if "while True" in crash:  # the phase's record claims it: shown as that record's claim, naming no cell
        assert "used more than the 5 s of CPU time allowed per cell" in result.visible, result.visible
        assert "record kept while your notebook ran" in result.visible and "while True" not in result.visible


@pytest.mark.route
def test_regrades_are_identical(fresh_zip, tmp_path):
    path = tmp_path / "partial.ipynb"
    nbformat.write(crash_notebook("x = 1"), path)
    runs = [gradescope.run_as_gradescope(path, tmp_path / f"out{k}", fresh_zip, extra_env=QUICK) for k in range(3)]
    assert len({json.dumps(r.scores, sort_keys=True) for r in runs}) == 1
    graded = record.read(tmp_path / "out0" / "autograder" / "results")  # the typed record: every question judged
    assert graded.status is record.Status.COMPLETED and graded.reason == "graded", graded
    assert {q.question: q.score for q in graded.questions} == runs[0].scores and all(q.judged for q in graded.questions)
    assert graded.limits["cell_cpu_seconds"] > 0 and {"prepare", "student", "verdict"} <= set(graded.timings)
    assert len({re.sub(r"\b\d+ s\b", "# s", r.visible) for r in runs}) == 1  # the same words; the run's seconds vary
    assert runs[0].total == POINTS["q1a"] + POINTS["q2b"]


UPLOAD_KINDS = ["hw1 (1).ipynb", "HW1_jsmith.ipynb", "export.zip", "hw1.py", "pasted_in_colab.ipynb"]


@pytest.mark.route
@pytest.mark.parametrize("kind", UPLOAD_KINDS)
def test_every_kind_of_upload_is_graded(kind, fresh_zip, tmp_path):
    nb = crash_notebook("x = 1")
    upload = tmp_path / "upload"
    upload.mkdir()
    if kind.endswith(".zip"):  # Otter's export: the notebook beside its log and PDF
        with zipfile.ZipFile(upload / kind, "w") as z:
            z.writestr("hw1.ipynb", nbformat.writes(nb))
            z.writestr(".OTTER_LOG", b"log")
            z.writestr("hw1.pdf", b"%PDF-1.4")
    elif kind.endswith(".py"):  # Jupyter's "Download as .py"
        (upload / kind).write_text("\n\n".join(f"# In[{k}]:\n\n{c.source}" for k, c in enumerate(nb.cells)))
    else:
        if kind.startswith("pasted"):
            nb.metadata = {}
        nbformat.write(nb, upload / kind)
    result = gradescope.run_as_gradescope(upload, tmp_path / "out", fresh_zip, extra_env=QUICK)
    assert result.scores["q1a"] == POINTS["q1a"] and result.scores["q2b"] == POINTS["q2b"], result.visible


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups need root")
@pytest.mark.parametrize(
    "fraction, at_once, pinned, threads",
    [
        (0.5, None, False, 1),  # Gradescope's default: half a CPU
        (1.5, None, False, 1),  # a quota of one and a half CPUs: one whole CPU's worth of threads
        (2.0, None, False, 2),
        (None, "1", False, 2),  # no quota: its CPUs, divided by the gradings that share them
        (None, "2", False, 1),
        (None, None, False, 1),  # no quota, sharing unknown (otter grade's containers): one
        (None, None, True, 1),  # pinned to one CPU (make grade)
    ],
)
def test_threads_follow_the_cpu_share_the_grading_really_has(fraction, at_once, pinned, threads, tmp_path):
    # The route's own helpers: the cgroup quota it finds, the CPUs it may use, the gradings that share them.
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs")
    sandbox = trusted_copy.module("sandbox")
    script = "from tools.trusted import trusted_module\nprint(*trusted_module('route').cpu_share()[:2])\n"
    cgroup = None
    if fraction:
        cgroup, why = sandbox.Cgroup.create(f"hw1-test-{os.getpid()}", cpus=fraction)
        if cgroup is None:  # a container without a writable cgroup filesystem
            pytest.skip(f"cannot create a cgroup here: {why}")
    env = {k: v for k, v in os.environ.items() if k != "HW1_GRADINGS_AT_ONCE"}
    if at_once:
        env["HW1_GRADINGS_AT_ONCE"] = at_once
    try:
        run = subprocess.run(
            [*(["taskset", "-c", "0"] if pinned else []), sys.executable, "-c", script],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
            env=env,
            preexec_fn=cgroup.join if cgroup else None,
        )
    finally:
        if cgroup:
            cgroup.remove()
    cpus, found = run.stdout.split()
    assert int(found) == threads, run.stdout
    if fraction:
        assert float(cpus) == fraction
