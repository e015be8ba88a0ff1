"""``make grade``: a mixed folder graded in parallel through the real route, Otter's CSV row by row, the report.

The mixed folder holds the solution, the blank notebook, a mutant (quick base), Otter's export zip
of another, a corrupt notebook, an infinite loop and an upload that cannot be read (a dangling link:
the route makes no verdict). The loop outlives the route's own limits (raised for this run), so the
bulk grader's time limit per submission must stop it. Then: a rerun keeps every verdict, ``--regrade``
regrades one, a changed upload or autograder is regraded; and Gradescope's export, keyed by submission.
"""

import csv
import html
import io
import json
import os
import re
import subprocess
import tempfile
import time
import zipfile

import nbformat
import pytest

from tests.corpus import students
from tests.test_route import crash_notebook
from tools import ROOT, errors
from tools.build import master_notebook
from tools.build import release as build_release
from tools.grade import gradescope
from tools.grade.__main__ import grade_folder
from tools.trusted import settings

POINTS = {q["name"]: q["points"] for q in master_notebook.questions() if not q["manual"]}
QUESTIONS = sorted(POINTS)
# s per submission: the infinite loop runs this long on one of the two workers, the longest grading of the run;
# the solution grades in 28 s on one CPU and 54 s on half of one (make benchmark, docs/performance.md)
LIMIT = settings.TEST_BULK_TIMEOUT.value()
ROUTE_ENV = {"HW1_CELL_TIMEOUT": str(LIMIT + 100)}  # the route's cell limit must not stop the loop first
MUTANT_FILES = {"mutant_q3d_missing_x.ipynb": "q3d_missing_x"}
ZIPPED_MUTANT = "q3d_relu_prime_at_0"  # inside export.zip


def expected_rows():
    """{file: (status, {question: points} or None)}: what the route must give each upload of the mixed folder."""
    full = dict(POINTS)
    zero = {q: 0 for q in POINTS}
    rows = {
        "solution.ipynb": ("Completed", full),
        "blank.ipynb": ("Completed", zero),
        "export.zip": ("Completed", {**full, **students.MUTANTS[ZIPPED_MUTANT].expected}),
        "corrupt.ipynb": ("Rejected", zero),
        "infinite_loop.ipynb": ("Timeout", zero),
        "unreadable.ipynb": ("Failed", zero),
    }
    for file, name in MUTANT_FILES.items():
        rows[file] = ("Completed", {**full, **students.MUTANTS[name].expected})
    return rows


def expected_hardest(rows):
    """The question with the lowest mean share of its points over the Completed uploads (then full-marks rate)."""
    completed = [scores for status, scores in rows.values() if status == "Completed"]
    share = {q: sum(s[q] / POINTS[q] for s in completed) / len(completed) for q in POINTS}
    full = {q: sum(s[q] == POINTS[q] for s in completed) / len(completed) for q in POINTS}
    ranked = sorted(POINTS, key=lambda q: (share[q], full[q], q))
    assert (share[ranked[0]], full[ranked[0]]) != (share[ranked[1]], full[ranked[1]]), (
        "the mixed folder must have one hardest question"
    )
    return ranked[0]


def write_mixed_folder(folder, release):
    student = release / "student" / build_release.NOTEBOOK
    nbformat.write(
        nbformat.read(release / "solutions" / build_release.NOTEBOOK, as_version=4), folder / "solution.ipynb"
    )
    nbformat.write(nbformat.read(student, as_version=4), folder / "blank.ipynb")
    for file, name in MUTANT_FILES.items():
        nbformat.write(students.build_mutant(name, student), folder / file)
    with zipfile.ZipFile(folder / "export.zip", "w") as z:  # what the notebook's last cell exports
        z.writestr("hw1.ipynb", nbformat.writes(students.build_mutant(ZIPPED_MUTANT, student)))
        z.writestr(".OTTER_LOG", b"log")
    (folder / "corrupt.ipynb").write_bytes(b'{"cells": [')
    nbformat.write(crash_notebook("while True:\n    pass"), folder / "infinite_loop.ipynb")
    os.symlink(folder / "moved_away.ipynb", folder / "unreadable.ipynb")
    (folder / "README.txt").write_text("not an upload")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def run(folder, out, zip_path, **kwargs):
    stream = io.StringIO()
    started = time.monotonic()
    rows, export = grade_folder(
        folder, out, zip_path, jobs=2, timeout=LIMIT, extra_env=ROUTE_ENV, stream=stream, **kwargs
    )
    return {r.key: r for r in rows}, stream.getvalue(), time.monotonic() - started


@pytest.fixture(scope="module")
def mixed_run(fresh_release, fresh_zip, tmp_path_factory):
    """The mixed folder graded by make grade, its scratch folders in a temporary folder of this batch's own (so that
    what it leaves behind is told from any other grading's on the machine): (folder, out, rows, log, scratch)."""
    folder = tmp_path_factory.mktemp("mixed")
    write_mixed_folder(folder, fresh_release)
    out = tmp_path_factory.mktemp("bulk") / "grades"
    scratch, saved = tmp_path_factory.mktemp("scratch"), tempfile.tempdir
    tempfile.tempdir = str(scratch)
    try:
        rows, log, seconds = run(folder, out, fresh_zip)
    finally:
        tempfile.tempdir = saved
    print(f"\nmixed folder: {len(rows)} submissions graded in {seconds:.0f} s\n{log}")
    return folder, out, rows, log, scratch


@pytest.fixture(scope="module")
def mixed(mixed_run):
    return mixed_run[:4]


@pytest.mark.route
def test_csv_row_by_row(mixed, fresh_zip):
    folder, out, rows, log = mixed
    table = read_csv(out / "final_grades.csv")
    header, points_row, body = table[0], table[1], table[2:]
    assert header == ["file", *QUESTIONS, "total_points_earned", "percent_correct", "grading_status", "flag"]
    assert points_row == [
        "points-per-question",
        *[str(POINTS[q]) for q in QUESTIONS],
        str(sum(POINTS.values())),
        "1.0",
        "--",
        "--",
    ]
    expected = expected_rows()
    assert [r[0] for r in body] == sorted(expected), "one row per upload, in Otter's order (sorted by file)"
    possible = sum(POINTS.values())
    for line in body:
        row = dict(zip(header, line))
        status, scores = expected[row["file"]]
        got = {q: int(row[q]) for q in QUESTIONS}
        assert got == scores, f"{row['file']}: {row['grading_status']}"
        total = sum(scores.values())
        assert row["total_points_earned"] == str(total)
        assert float(row["percent_correct"]) == round(total / possible, 4)
        assert row["flag"] == "", row
        if status == "Completed":
            assert row["grading_status"] == "Completed"
        else:
            assert row["grading_status"].startswith(status + ": "), row["grading_status"]
    messages = {r[0]: dict(zip(header, r))["grading_status"] for r in body}
    assert "not a valid Jupyter notebook" in messages["corrupt.ipynb"]
    assert f"stopped after {LIMIT} s" in messages["infinite_loop.ipynb"]
    assert "FileNotFoundError" in messages["unreadable.ipynb"]
    assert "ignored (not an upload): README.txt" in log


@pytest.mark.route
def test_each_submission_keeps_its_results_and_log(mixed, fresh_zip):
    folder, out, rows, _ = mixed
    with zipfile.ZipFile(fresh_zip) as z:
        stamp = z.read(build_release.STAMP).decode()
    for key, (status, scores) in expected_rows().items():
        record = json.loads((out / key / "grading.json").read_text())
        assert record["status"] == status and record["autograder"] == stamp, record
        assert (out / key / "grading.log").read_text().strip(), key
        if status in ("Completed", "Rejected"):
            results = json.loads((out / key / "results.json").read_text())
            assert results["extra_data"]["autograder"] == stamp
            assert {t["name"]: t["score"] for t in results["tests"] if "max_score" in t} == scores, key
            assert (out / key / "results.pkl").exists()
        else:
            assert not (out / key / "results.json").exists(), "no verdict, no results.json"
    assert oct(out.stat().st_mode & 0o777) == "0o700", "the grades are root's only"


@pytest.mark.route
def test_nothing_of_a_grading_survives(mixed_run):
    mixed, scratch = mixed_run[:4], mixed_run[4]
    leftovers = list(scratch.glob("hw1-bulk-*"))
    assert leftovers == [], f"scratch folders left behind: {leftovers}"
    users = set(re.findall(r"user (\S+)\)", "".join((mixed[1] / k / "grading.log").read_text() for k in mixed[2])))
    assert users, "the logs name the sandbox users"
    for user in users:
        alive = subprocess.run(["pgrep", "-u", user], capture_output=True, text=True).stdout.split()
        assert alive == [], f"processes of {user} survived: {alive}"


@pytest.mark.route
def test_progress_shows_count_and_time_left(mixed):
    log = mixed[3]
    n = len(expected_rows())
    assert f"[{n}/{n}]" in log and "time left ~" in log, log


@pytest.mark.route
def test_log_and_report_state_the_throughput_and_the_workers(mixed):
    folder, out, rows, log = mixed
    n = len(expected_rows())
    # jobs=2 given: the log says so, and how many were graded how fast
    assert re.search(r"^2 workers \(JOBS given\)", log, re.M), log
    rate = re.search(
        rf"^throughput: {n} submissions graded in .+: ([\d.]+) submissions per hour with 2 workers", log, re.M
    )
    assert rate and float(rate.group(1)) > 0, log
    page = (out / "report.html").read_text()
    assert f'<p id="throughput">This run: {n} submissions graded in' in page and "submissions per hour" in page


@pytest.mark.route
def test_report_names_the_hardest_question(mixed):
    folder, out, rows, _ = mixed
    page = (out / "report.html").read_text()
    hardest = expected_hardest(expected_rows())
    assert hardest == "q3d"  # the two q3d mutants and the blank notebook: the mixed folder fails q3d most
    named = re.search(r'<p id="hardest">(.*?)</p>', page, re.S).group(1)
    assert re.findall(r'<strong class="question">(.*?)</strong>', named) == [hardest], named
    assert re.search(r"<tr class=\"hardest\"><td>q3d</td>", page)
    # self-contained: no external asset
    assert not re.search(r"<(link|script|img)\b|\bsrc=|url\(", page), "the report must load nothing"
    # q3d's check failed most often comes first, with the number of graded submissions that failed it
    failed = {}
    for key, (status, _) in expected_rows().items():
        if status == "Completed":
            output = next(
                t["output"] for t in json.loads((out / key / "results.json").read_text())["tests"] if t["name"] == "q3d"
            )
            for check in re.findall(r"^failed \(\d+/\d+\): (.*)$", output, re.M):
                failed.setdefault(check, set()).add(key)
    top = min(failed, key=lambda check: (-len(failed[check]), check))
    first = re.search(r'<h3>q3d .*?</tr>\s*<tr><td class="num">(\d+)</td><td>(.*?)</td>', page, re.S)
    assert (int(first.group(1)), html.unescape(first.group(2))) == (len(failed[top]), top), first.group(0)
    for status in ("Completed", "Rejected", "Timeout", "Failed"):
        assert f"<td>{status}</td>" in page


@pytest.mark.route
def test_report_links_the_code_similarity_report(mixed):
    folder, out, rows, _ = mixed
    page = (out / "report.html").read_text()
    assert '<a href="similarity.html">' in page
    similar = (out / "similarity.html").read_text()
    compared = [k for k in rows if k not in ("corrupt.ipynb", "unreadable.ipynb")]
    assert f"{len(compared)} submissions with code" in similar
    assert (
        "corrupt.ipynb" in similar.split("Not compared", 1)[1]
        and "unreadable.ipynb" in similar.split("Not compared", 1)[1]
    )


@pytest.mark.route
def test_rerun_resumes_and_regrade_is_one_command(mixed, fresh_zip):
    folder, out, rows, _ = mixed
    before = (out / "final_grades.csv").read_bytes()
    again, log, seconds = run(folder, out, fresh_zip)
    regraded = sorted(k for k, r in again.items() if r.graded_now)
    assert regraded == ["unreadable.ipynb"], "only the row without a verdict (Failed) is retried"
    assert seconds < 60, f"a rerun of a graded folder took {seconds:.0f} s"
    assert (out / "final_grades.csv").read_bytes() == before

    stamp = json.loads((out / "corrupt.ipynb" / "grading.json").read_text())["graded_at"]
    time.sleep(1.1)
    again, _, _ = run(folder, out, fresh_zip, regrade=["corrupt"])  # make grade ... REGRADE=corrupt
    assert sorted(k for k, r in again.items() if r.graded_now) == ["corrupt.ipynb", "unreadable.ipynb"]
    assert json.loads((out / "corrupt.ipynb" / "grading.json").read_text())["graded_at"] != stamp

    (folder / "corrupt.ipynb").write_bytes(b'{"cells": [ ')  # a new upload
    again, _, _ = run(folder, out, fresh_zip)
    assert sorted(k for k, r in again.items() if r.graded_now) == ["corrupt.ipynb", "unreadable.ipynb"]

    record = out / "corrupt.ipynb" / "grading.json"  # graded by another autograder
    record.write_text(record.read_text().replace(json.loads(record.read_text())["autograder"], "0" * 64))
    again, _, _ = run(folder, out, fresh_zip)
    assert sorted(k for k, r in again.items() if r.graded_now) == ["corrupt.ipynb", "unreadable.ipynb"]
    assert again["corrupt.ipynb"].status == "Rejected"

    with pytest.raises(errors.SubmissionsError, match="no submission is called"):
        run(folder, out, fresh_zip, regrade=["nobody"])


METADATA = """\
submission_1001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1001'
    :email: ada@example.edu
  :created_at: 2023-10-02 23:58:01.000000000 -07:00
  :score: 0.0
submission_1002:
  :submitters:
  - :name: Grace Hopper
    :sid: '1002'
    :email: grace@example.edu
  - :name: Alan Turing
    :sid: '1003'
    :email: alan@example.edu
  :created_at: 2023-10-02 23:59:30.000000000 -07:00
  :score: 0.0
"""


@pytest.mark.route
def test_gradescope_export_is_keyed_by_submission(fresh_zip, tmp_path):
    export = tmp_path / "assignment_export"
    for folder in ("submission_1001", "submission_1002"):
        (export / folder).mkdir(parents=True)
    (export / "submission_metadata.yml").write_text(METADATA)
    nbformat.write(crash_notebook("x = 1"), export / "submission_1001" / "hw1.ipynb")  # q1a and q2b right
    (export / "submission_1002" / "hw1.ipynb").write_bytes(b"")
    out = tmp_path / "grades"
    rows, _, _ = run(export, out, fresh_zip)
    table = read_csv(out / "final_grades.csv")
    header = table[0]
    assert header[-4:] == ["flag", "name", "sid", "email"]
    body = {r[0]: dict(zip(header, r)) for r in table[2:]}
    assert sorted(body) == ["submission_1001", "submission_1002"]
    ada, pair = body["submission_1001"], body["submission_1002"]
    assert (ada["name"], ada["sid"], ada["email"]) == ("Ada Lovelace", "1001", "ada@example.edu")
    assert pair["name"] == "Grace Hopper; Alan Turing" and pair["sid"] == "1002; 1003"
    assert ada["grading_status"] == "Completed" and ada["total_points_earned"] == str(POINTS["q1a"] + POINTS["q2b"])
    assert pair["grading_status"].startswith("Rejected: ") and "is empty" in pair["grading_status"]
    assert (out / "submission_1001" / "results.json").exists()

    again, _, _ = run(export, out, fresh_zip, regrade=["alan@example.edu"])  # a group member's email
    assert sorted(k for k, r in again.items() if r.graded_now) == ["submission_1002"]


def test_readme_recipes_run_this_command():
    readme = (ROOT / "README.md").read_text()
    recipes = re.findall(r"^(make grade [^\n#]*?)\s*(?:#.*)?$", readme, re.M)
    assert any("REGRADE=" in r for r in recipes) and any("REGRADE=" not in r for r in recipes), recipes
    for recipe in recipes:
        args = recipe.split()[1:]
        dry = subprocess.run(["make", "-n", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout
        command = [line for line in dry.splitlines() if "-m tools.grade " in line]
        assert command, dry
        values = dict(a.split("=", 1) for a in args if "=" in a)
        assert f'"{values["SUBMISSIONS"]}" "{values["OUT"]}"' in command[0]
        if "REGRADE" in values:
            assert f'--regrade "{values["REGRADE"]}"' in command[0]


def test_otter_grade_command_in_the_readme_matches_the_installed_cli():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(otter grade .+)$", readme, re.M) + re.findall(r"`(otter grade -[^`]+)`", readme)
    assert commands, "the README shows otter grade's command"
    helptext = subprocess.run(
        [str(gradescope.PYTHON), "-m", "otter", "grade", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in commands:
        for option in re.findall(r"(?<=\s)(--?[a-z][\w-]*)", command):
            assert re.search(rf"(^|[\s,]){re.escape(option)}[\s,\[]", helptext), (
                f"otter grade has no {option}: {command}"
            )
        assert "-n hw1" in command and "-a autograder/hw1-autograder.zip" in command
