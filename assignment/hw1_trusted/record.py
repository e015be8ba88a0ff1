"""The route's result as a typed record: one ``grading.json`` per grading, beside ``results.json``.

``results.json`` is what Gradescope shows; this record is what the tools read (``make grade``, its report, the
tests): a status, a reason code, each question's verdict, the timings and the limits in force. It is built by
the route once the grading is over, from its own facts and the verdict's ``results.json`` (root's own file), and
written once, whole or not at all. Messages are free to change wording: nothing reads prose.

``Completed`` holds only when every question was judged; a verdict that leaves a question out makes the grading
a grader fault (``incomplete_verdict``), never a grade.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import pathlib
from typing import Any

FILE = "grading.json"


class Status(enum.StrEnum):
    COMPLETED = "completed"  # every question judged
    REJECTED = "rejected"  # the student's upload cannot be graded (its reason code says why)
    GRADER_FAULT = "grader_fault"  # the grader's own failure: not a grade; a rerun grades it again


class RecordError(ValueError):
    """A grading.json that is missing, unreadable or not of this shape."""


@dataclasses.dataclass(frozen=True)
class QuestionVerdict:
    question: str
    score: float
    max_score: float
    judged: bool  # the verdict judged it (any score); False: not graded (a rejected upload, a grader fault)


@dataclasses.dataclass(frozen=True)
class GradingRecord:
    autograder: str
    status: Status
    reason: str  # a code: "graded", "upload", "busy", "grader_fault", "incomplete_verdict", ...
    message: str  # the sentence shown for a status other than completed (the grader's words)
    questions: tuple[QuestionVerdict, ...]
    timings: dict[str, float]  # seconds of each phase on the wall clock
    limits: dict[str, float]  # the limits in force (CPU seconds, MB)

    def __post_init__(self) -> None:
        if self.status is Status.COMPLETED and not all(q.judged for q in self.questions):
            raise RecordError("a completed grading must judge every question")

    @property
    def total(self) -> float:
        return round(sum(q.score for q in self.questions), 2)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: Any) -> GradingRecord:
        try:
            questions = tuple(
                QuestionVerdict(str(q["question"]), _number(q["score"]), _number(q["max_score"]), _flag(q["judged"]))
                for q in data["questions"]
            )
            return cls(
                autograder=str(data["autograder"]),
                status=Status(data["status"]),
                reason=str(data["reason"]),
                message=str(data["message"]),
                questions=questions,
                timings={str(k): _number(v) for k, v in dict(data["timings"]).items()},
                limits={str(k): _number(v) for k, v in dict(data["limits"]).items()},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RecordError(f"not a grading record: {type(error).__name__}: {error}") from None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"not a flag: {value!r}")
    return value


def from_results(
    results: dict[str, Any], questions: list[str], timings: dict[str, float], limits: dict[str, float]
) -> GradingRecord:
    """The record of a grading whose results.json (root's own, written by the verdict or the route) is
    ``results``: its status and each of ``questions`` (every autograded one) as the verdict scored it."""
    extra = results.get("extra_data", {})
    status_data = extra.get("status") if isinstance(extra.get("status"), dict) else {}
    status = Status(str(status_data.get("status")))  # ValueError: no status, or another
    scored = {t["name"]: t for t in results.get("tests", []) if "max_score" in t}
    judged = status is Status.COMPLETED
    verdicts = tuple(
        QuestionVerdict(q, float(scored[q]["score"]), float(scored[q]["max_score"]), judged)
        for q in questions
        if q in scored
    )
    reason, message = str(status_data.get("reason") or "graded"), str(status_data.get("message") or "")
    if judged and len(verdicts) != len(questions):
        missing = sorted(set(questions) - set(scored))
        status, reason, message = Status.GRADER_FAULT, "incomplete_verdict", f"no verdict for {', '.join(missing)}"
        verdicts = tuple(dataclasses.replace(v, judged=False) for v in verdicts)
    return GradingRecord(str(extra.get("autograder", "")), status, reason, message, verdicts, timings, limits)


def write(results_dir: pathlib.Path | str, record: GradingRecord) -> None:
    """grading.json, whole or not at all (a temporary file renamed into place)."""
    path = pathlib.Path(results_dir) / FILE
    partial = path.with_name(f".{FILE}.partial")
    partial.write_text(json.dumps(record.to_json(), indent=1))
    os.replace(partial, path)


def read(results_dir: pathlib.Path | str) -> GradingRecord:
    """The record of a grading; RecordError if it is missing or not of this shape."""
    path = pathlib.Path(results_dir) / FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RecordError(f"no grading record at {path}: {type(error).__name__}") from None
    return GradingRecord.from_json(data)
