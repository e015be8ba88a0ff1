"""python -m tools.report.merge_grades: Gradescope's two grade exports (code, written) into one gradebook, as the README runs it."""

import csv
import os
import re
import shlex
import subprocess
import sys

import pytest

from tools import ROOT
from tools.report import merge_grades

CODE_MAX, WRITTEN_MAX = merge_grades.expected_points()
SUBMISSION = ["Submission ID", "Submission Time", "Lateness (H:M:S)", "View Count", "Submission Count"]


def write_export(path, rows, max_points, questions, split_name=False):
    """A CSV shaped like Gradescope's *Download Grades*: identity, totals, status, submission and question columns."""
    identity = ["First Name", "Last Name", "SID", "Email", "Sections"] if split_name else ["Name", "SID", "Email"]
    header = identity + ["Total Score", "Max Points", "Status"] + SUBMISSION + questions
    with open(path, "w", newline="", encoding="utf-8-sig") as f:  # Gradescope's files may start with a BOM
        writer = csv.writer(f)
        writer.writerow(header)
        for name, sid, email, score, status in rows:
            first, _, last = name.partition(" ")
            ident = [first, last, sid, email, ""] if split_name else [name, sid, email]
            graded = status == "Graded"
            writer.writerow(
                ident
                + [score, max_points, status]
                + (["123456", "2023-09-29 16:59:00 -0400", "00:00:00", "3", "1"] if status != "Missing" else [""] * 5)
                + [("1.0" if graded else "") for _ in questions]
            )


CODE_ROWS = [
    ("Ada Lovelace", "1001", "ada@uni.edu", "73.0", "Graded"),
    ("Alan Turing", "1002", "alan@uni.edu", "61.5", "Graded"),
    ("Grace Hopper", "1003", "grace@uni.edu", "", "Missing"),
    ("Edsger Dijkstra", "", "edsger@uni.edu", "40.0", "Graded"),
]
WRITTEN_ROWS = [
    ("Ada Lovelace", "1001", "ADA@uni.edu", "25.0", "Graded"),  # case differs: still the same student
    ("Alan Turing", "1002", "alan@uni.edu", "", "Missing"),
    ("Grace Hopper", "1003", "grace@uni.edu", "27.0", "Graded"),
    ("Barbara Liskov", "1005", "barbara@uni.edu", "20.5", "Graded"),  # only in the written export
]


def readme_command():
    """The merge command as the README gives it."""
    (line,) = [
        l.strip()
        for l in (ROOT / "README.md").read_text().splitlines()
        if l.strip().startswith("python -m tools.report.merge_grades ")
    ]
    return line


def run_readme_command(folder):
    command = shlex.split(readme_command())
    command[0] = sys.executable
    # run where the exports are, as a TA would from the repository's root: the tools package on the path
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )


@pytest.fixture
def exports(tmp_path):
    """The two exports under the names the README's command reads."""
    code_name, written_name = [
        p for p in shlex.split(readme_command()) if p.endswith(".csv") and not p.startswith("-")
    ][:2]
    write_export(
        tmp_path / code_name,
        CODE_ROWS,
        CODE_MAX,
        [f"{i}: q{i} ({p}.0 pts)" for i, p in enumerate((2, 2, 3), 1)],
        split_name=True,
    )
    write_export(
        tmp_path / written_name,
        WRITTEN_ROWS,
        WRITTEN_MAX,
        ["1: 1(a), derivation (2.0 pts)", "2: Q5, written (4.0 pts)"],
    )
    return tmp_path, tmp_path / code_name, tmp_path / written_name


def gradebook(folder):
    out = re.search(r"(?:-o|--out)\s+(\S+)", readme_command())
    with open(folder / (out.group(1) if out else "hw1_gradebook.csv"), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_readme_command_merges_both_exports_into_one_gradebook(exports):
    folder, _, _ = exports
    run = run_readme_command(folder)
    assert run.returncode == 0, run.stdout + run.stderr
    book = {row["Email"].lower(): row for row in gradebook(folder)}
    code, written, total = f"Code ({CODE_MAX})", f"Written ({WRITTEN_MAX})", f"Total ({CODE_MAX + WRITTEN_MAX})"
    assert list(gradebook(folder)[0]) == ["Name", "SID", "Email", code, written, total, "Notes"]
    assert sorted(book) == ["ada@uni.edu", "alan@uni.edu", "barbara@uni.edu", "edsger@uni.edu", "grace@uni.edu"]
    assert (book["ada@uni.edu"][code], book["ada@uni.edu"][written], book["ada@uni.edu"][total]) == ("73", "25", "98")
    assert book["ada@uni.edu"]["Notes"] == "" and book["ada@uni.edu"]["Name"] == "Ada Lovelace"
    assert (book["alan@uni.edu"][total], book["alan@uni.edu"]["Notes"]) == ("61.5", "no written submission")
    assert (book["grace@uni.edu"][total], book["grace@uni.edu"]["Notes"]) == ("27", "no code submission")
    assert (book["edsger@uni.edu"][total], book["edsger@uni.edu"]["Notes"]) == ("40", "not in the written export")
    assert (book["barbara@uni.edu"][total], book["barbara@uni.edu"]["SID"]) == ("20.5", "1005")
    assert book["barbara@uni.edu"]["Notes"] == "not in the code export"


@pytest.mark.parametrize(
    "problem, change",
    [
        (
            "not graded yet",
            lambda rows: [
                (n, s, e, "", "Ungraded") if n == "Grace Hopper" else (n, s, e, t, st) for n, s, e, t, st in rows
            ],
        ),
        ("appears twice", lambda rows: rows + [rows[0]]),
    ],
)
def test_the_merge_stops_on_an_ungraded_or_duplicate_written_row(exports, problem, change):
    folder, _, written_csv = exports
    write_export(written_csv, change(WRITTEN_ROWS), WRITTEN_MAX, [])
    run = run_readme_command(folder)
    assert run.returncode != 0 and problem in run.stderr, run.stdout + run.stderr
    assert not [p for p in folder.iterdir() if p.name.endswith("gradebook.csv")], "no gradebook from a failed merge"


def test_the_merge_stops_when_gradescope_points_differ_from_the_master(exports):
    folder, code_csv, _ = exports
    write_export(code_csv, CODE_ROWS, CODE_MAX + 2, [], split_name=True)
    run = run_readme_command(folder)
    assert run.returncode != 0 and f"but the code part is worth {CODE_MAX}" in run.stderr, run.stderr
