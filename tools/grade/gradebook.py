"""make grade's gradebook: each submission's row and folder, the resume state, and Otter's CSV.

Each graded submission gets ``OUT/<submission>/`` (results.json, results.pkl, grading.log, grading.json); a rerun
keeps a row whose grading.json records the same upload and the same autograder (``stored_row``), and
``final_grades.csv`` is written from every row in ``otter grade``'s layout (``write_csv``).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import pathlib
import shutil
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools import errors
from tools.build.release import STAMP
from tools.grade import gradescope
from tools.grade.submissions import IDENTITY, Submission, upload_hash
from tools.report.safe_text import cell, terminal
from tools.trusted import settings

# the route's limits and switches that a batch passes on to every grading (and records in grading.json)
ROUTE_SETTINGS = (
    settings.CELL_TIMEOUT,
    settings.PHASE_TIMEOUT,
    settings.PHASE_WALL_CAP,
    settings.STUDENT_MEMORY_MB,
    settings.STUDENT_DISK_MB,
    settings.TRUSTED_TIMEOUT,
    settings.TRUSTED_MEMORY_MB,
    settings.SANDBOX,
    settings.CGROUP,
)
ROUTE_KNOBS = tuple(s.name for s in ROUTE_SETTINGS)

COMPLETED, REJECTED, TIMEOUT, FAILED, NOT_GRADED = "Completed", "Rejected", "Timeout", "Failed", "Not graded"
KEPT = (COMPLETED, REJECTED, TIMEOUT)  # statuses a rerun keeps; the others are retried
CSV_NAME, RECORD, LOG = "final_grades.csv", "grading.json", "grading.log"


@dataclass
class Row:
    submission: Submission
    status: str
    message: str = ""
    result: gradescope.Result | None = None
    seconds: float = 0.0
    graded_now: bool = False

    @property
    def key(self) -> str:
        return self.submission.key

    @property
    def grading_status(self) -> str:
        return self.status if self.status == COMPLETED else f"{self.status}: {self.message}"


def autograder_id(zip_path: str | pathlib.Path) -> str:
    """The zip's own identity (its AUTOGRADER_ID stamp, a SHA-256 over its entries); the file's hash without one."""
    with zipfile.ZipFile(zip_path) as z:
        if STAMP in z.namelist():
            return z.read(STAMP).decode().strip()
    return hashlib.sha256(pathlib.Path(zip_path).read_bytes()).hexdigest()


def keep(
    out: str | pathlib.Path,
    submission: Submission,
    digest: str | None,
    graded: pathlib.Path,
    status: str,
    message: str,
    seconds: float,
    ag_id: str,
    user: str,
    env: Mapping[str, str],
    timeout: float,
    trailer: str = "",
) -> None:
    """Writes the submission's folder anew (built aside, then swapped in)."""
    out_dir = pathlib.Path(out)
    fresh = out_dir.with_name(f".{out_dir.name}.new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    if status in (COMPLETED, REJECTED):
        shutil.copy(graded / "results.json", fresh / "results.json")
        pkl = graded / "autograder" / "results" / "results.pkl"
        if pkl.exists():
            shutil.copy(pkl, fresh / "results.pkl")
    log = graded / "run_autograder.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    text += f"\n--- bulk grader: {status}{': ' + message if message else ''} ({seconds:.1f} s, user {gradescope.sandbox_user(user)})\n"
    (fresh / LOG).write_text(text + trailer)
    record = {
        "submission": submission.key,
        "upload": str(submission.path),
        "upload_sha256": digest,
        "autograder": ag_id,
        "status": status,
        "message": message,
        "seconds": round(seconds, 1),
        "graded_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "identity": submission.identity,
        "timeout": timeout,
        "route_env": {k: v for k, v in env.items() if k in ROUTE_KNOBS},
    }
    (fresh / RECORD).write_text(json.dumps(record, indent=2))
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    fresh.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def upload_hash_or_none(path: str | pathlib.Path) -> str | None:
    try:
        return upload_hash(path)
    except OSError:
        return None


def stored_row(
    submission: Submission, out_dir: pathlib.Path, ag_id: str, digest: str | None, timeout: float
) -> Row | None:
    """The row of an earlier grading of the same upload with the same autograder, or None.

    A time-out is kept unless the time limit is now longer."""
    try:
        record = json.loads((out_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None
    if record.get("upload_sha256") != digest or record.get("autograder") != ag_id or record.get("status") not in KEPT:
        return None
    if record["status"] == TIMEOUT and timeout > record.get("timeout", 0):
        return None
    result = None
    if record["status"] in (COMPLETED, REJECTED):
        try:
            result = gradescope.Result(json.loads((out_dir / "results.json").read_text()))
        except (OSError, ValueError, KeyError):
            return None
        if result.raw.get("extra_data", {}).get("autograder") != ag_id or not (out_dir / "results.pkl").exists():
            return None
    return Row(submission, record["status"], record.get("message", ""), result, record.get("seconds", 0.0), False)


def select_regrades(submissions: Sequence[Submission], names: Iterable[str]) -> set[str]:
    """The keys that ``--regrade NAME`` names: key, key without extension, or a submitter's name, SID or email."""
    chosen: set[str] = set()
    for name in names:
        wanted = name.strip().lower()
        hits = {
            s.key
            for s in submissions
            if wanted in {s.key.lower(), pathlib.PurePath(s.key).stem.lower()}
            or any(wanted in [part.strip().lower() for part in s.identity.get(k, "").split(";")] for k in IDENTITY)
        }
        if not hits:
            keys = ", ".join(terminal(s.key) for s in submissions[:10]) + (" ..." if len(submissions) > 10 else "")
            raise errors.SubmissionsError(
                f"--regrade {terminal(name)}: no submission is called that (submissions: {keys})"
            )
        chosen |= hits
    return chosen


def grades_frame(rows: Sequence[Row], out: str | pathlib.Path, gradescope_export: bool = False) -> Any:
    """otter grade's table (its own merge_scores_to_df on the route's results.pkl) plus flag and identity."""
    import dill
    from otter.grade.utils import (
        POINTS_POSSIBLE_LABEL,
        SCORES_DICT_FILE_KEY,
        SCORES_DICT_GRADING_STATUS_KEY,
        merge_scores_to_df,
    )
    from otter.test_files import GradingResults

    scores = []
    for row in rows:
        graded = None
        if row.status in (COMPLETED, REJECTED):
            with open(pathlib.Path(out) / row.submission.folder / "results.pkl", "rb") as f:
                graded = dill.load(f)
        else:
            graded = GradingResults.without_results(Exception(row.grading_status))
        graded.file = row.key
        scores.append(graded)
    frame = merge_scores_to_df(scores)
    by_key = {row.key: row for row in rows}
    points_row = frame[SCORES_DICT_FILE_KEY] == POINTS_POSSIBLE_LABEL

    def column(value: Callable[[Row], Any], points_value: Any) -> list[Any]:
        return [
            points_value if is_points else value(by_key[key])
            for key, is_points in zip(frame[SCORES_DICT_FILE_KEY], points_row)
        ]

    # a rejected upload has a verdict (all 0) in results.pkl, which Otter would call Completed
    frame[SCORES_DICT_GRADING_STATUS_KEY] = column(lambda r: r.grading_status, "--")
    frame["flag"] = column(lambda r: " | ".join(r.result.flags) if r.result is not None else "", "--")
    if gradescope_export:
        for name in IDENTITY:
            frame[name] = column(functools.partial(_identity, name), "")
    return frame


def _identity(name: str, row: Row) -> str:
    return row.submission.identity.get(name, "")


def spreadsheet_safe(frame: Any) -> Any:
    """The frame with every text cell made safe for a spreadsheet (tools.report.safe_text.cell: the upload's name, the
    submitters' names, SIDs and emails from Gradescope's metadata, the statuses), but the points row, Otter's own;
    numbers stay numbers and the columns stay as Otter's."""
    from otter.grade.utils import POINTS_POSSIBLE_LABEL, SCORES_DICT_FILE_KEY

    students = frame[SCORES_DICT_FILE_KEY] != POINTS_POSSIBLE_LABEL
    safe = frame.astype(object)
    for column in safe.columns:
        safe.loc[students, column] = [cell(v) for v in safe.loc[students, column]]
    return safe


def write_csv(rows: Sequence[Row], out: str | pathlib.Path, gradescope_export: bool = False) -> pathlib.Path:
    path = pathlib.Path(out) / CSV_NAME
    spreadsheet_safe(grades_frame(rows, out, gradescope_export)).to_csv(path, index=False)
    return path
