"""One gradebook from Gradescope's two grade exports: the autograded code and the hand-graded written part.

    python -m tools.report.merge_grades CODE.csv WRITTEN.csv [-o hw1_gradebook.csv]

CODE.csv and WRITTEN.csv are the two assignments' *Download Grades* CSVs (HW1 and HW1 written). Each has a
row per student of the roster, with ``Name`` (or ``First Name`` and ``Last Name``), ``SID``, ``Email``,
``Total Score``, ``Max Points`` and ``Status`` (``Graded``, ``Ungraded`` or ``Missing``), then submission and
per-question columns, which the merge does not need.

Students are matched by email (case-insensitive), which Gradescope always fills; SID is carried over.
The merge stops, naming the rows, when:

* a ``Max Points`` differs from the master notebook's points (73 autograded, 27 by hand): the outline or the
  autograder on Gradescope does not match this release;
* a written submission is ``Ungraded``: a gradebook would count it as 0; finish grading, then export again;
* an email appears twice in one file.

``Missing`` (no submission) counts 0 and is noted. A student in only one file counts 0 for the other part,
noted too. The output has one row per student: Name, SID, Email, Code, Written, Total, Notes; the header
names each part's points, e.g. ``Code (73)``.
"""

import argparse
import csv
import pathlib

from tools import errors
from tools.build import master_notebook
from tools.report.safe_text import cell, terminal


def expected_points():
    """(autograded, manual) points of the master notebook."""
    questions = master_notebook.questions()
    return (sum(q["points"] for q in questions if not q["manual"]), sum(q["points"] for q in questions if q["manual"]))


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def read_export(path, part, max_points):
    """{email: row} of one Gradescope export, with ``score`` (None while ungraded) and ``note``."""
    rows, problems = {}, []
    with open(path, newline="", encoding="utf-8-sig") as f:  # Gradescope's CSVs may start with a BOM
        reader = csv.DictReader(f)
        required = {"SID", "Email", "Total Score", "Max Points", "Status"}
        if not required <= set(reader.fieldnames or ()) or not (
            {"Name"} <= set(reader.fieldnames) or {"First Name", "Last Name"} <= set(reader.fieldnames)
        ):
            raise errors.MergeError(
                f"{path}: not a Gradescope grade export (it needs the columns Name, {', '.join(sorted(required))})"
            )
        for line, row in enumerate(reader, start=2):
            email = row["Email"].strip().lower()
            name = row.get("Name") or f"{row.get('First Name', '')} {row.get('Last Name', '')}".strip()
            where = f"{path.name} line {line} ({name or email})"
            if not email:
                problems.append(f"{where}: no email")
                continue
            if email in rows:
                problems.append(f"{where}: {email} appears twice")
                continue
            status = row["Status"].strip()
            if row["Max Points"].strip() and _number(row["Max Points"]) != max_points:
                problems.append(f"{where}: Max Points {row['Max Points']}, but the {part} part is worth {max_points}")
            if status == "Missing":
                score, note = 0, f"no {part} submission"
            elif status == "Ungraded" or not row["Total Score"].strip():
                score, note = None, None
                problems.append(f"{where}: the {part} submission is not graded yet")
            else:
                score, note = _number(row["Total Score"]), None
            rows[email] = {
                "name": name,
                "sid": row["SID"].strip(),
                "email": row["Email"].strip(),
                "score": score,
                "note": note,
            }
    return rows, problems


def merge(code_csv, written_csv):
    """The gradebook's rows (dicts), or SystemExit with every problem found in both files."""
    code_max, written_max = expected_points()
    code, code_problems = read_export(pathlib.Path(code_csv), "code", code_max)
    written, written_problems = read_export(pathlib.Path(written_csv), "written", written_max)
    if code_problems or written_problems:
        raise errors.MergeError("cannot merge:\n  " + "\n  ".join(code_problems + written_problems))
    book = []
    for email in list(code) + [e for e in written if e not in code]:
        parts = {"code": code.get(email), "written": written.get(email)}
        known = next(p for p in parts.values() if p is not None)
        notes = [p["note"] for p in parts.values() if p is not None and p["note"]]
        notes += [f"not in the {part} export" for part, p in parts.items() if p is None]
        scores = {part: (p["score"] if p is not None else 0) for part, p in parts.items()}
        book.append(
            {
                "Name": known["name"],
                "SID": known["sid"] or (parts["written"] or {}).get("sid", ""),
                "Email": known["email"],
                f"Code ({code_max})": scores["code"],
                f"Written ({written_max})": scores["written"],
                f"Total ({code_max + written_max})": _number(str(scores["code"] + scores["written"])),
                "Notes": "; ".join(notes),
            }
        )
    return sorted(book, key=lambda row: (row["Name"].lower(), row["Email"].lower()))


def main():
    parser = argparse.ArgumentParser(
        prog="python -m tools.report.merge_grades",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("code_csv", type=pathlib.Path, help="HW1's grade export (the autograder)")
    parser.add_argument("written_csv", type=pathlib.Path, help="HW1 written's grade export (the PDF)")
    parser.add_argument("-o", "--out", type=pathlib.Path, default=pathlib.Path("hw1_gradebook.csv"))
    args = parser.parse_args()
    book = merge(args.code_csv, args.written_csv)
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(book[0]) if book else ["Name", "SID", "Email"])
        writer.writeheader()
        writer.writerows({k: cell(v) for k, v in row.items()} for row in book)  # names and emails: Gradescope's
    print(f"{terminal(args.out)}: {len(book)} students")


if __name__ == "__main__":
    errors.run(main)
