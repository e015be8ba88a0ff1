"""The route's typed record (assignment/hw1_trusted/record.py), in-process: what it holds, what it refuses, and
that Completed means every question was judged."""

import json

import pytest

from tools.trusted import trusted_module

record = trusted_module("record")
QUESTIONS = ["q1a", "q1b"]


def results(status, tests=QUESTIONS, stamp="abc"):
    return {
        "tests": [{"name": "Grading notes", "output": "x"}]
        + [{"name": q, "score": 1.5, "max_score": 2, "output": "prose that nothing reads"} for q in tests],
        "extra_data": {"autograder": stamp, "status": status},
    }


def test_a_completed_grading_is_read_back_field_by_field(tmp_path):
    made = record.from_results(
        results({"status": "completed"}), QUESTIONS, {"verdict": 1.25}, {"cell_cpu_seconds": 240}
    )
    record.write(tmp_path, made)
    back = record.read(tmp_path)
    assert back == made and back.status is record.Status.COMPLETED and back.reason == "graded"
    assert [(q.question, q.score, q.max_score, q.judged) for q in back.questions] == [
        ("q1a", 1.5, 2.0, True),
        ("q1b", 1.5, 2.0, True),
    ]
    assert back.total == 3.0 and back.timings == {"verdict": 1.25} and back.limits == {"cell_cpu_seconds": 240.0}
    assert [p.name for p in tmp_path.iterdir()] == [record.FILE]  # no partial file left


def test_a_verdict_that_leaves_a_question_out_is_a_grader_fault():
    made = record.from_results(results({"status": "completed"}, tests=["q1a"]), QUESTIONS, {}, {})
    assert (made.status, made.reason) == (record.Status.GRADER_FAULT, "incomplete_verdict")
    assert "q1b" in made.message and not any(q.judged for q in made.questions)


@pytest.mark.parametrize("status", ["rejected", "grader_fault"])
def test_a_grading_that_was_not_a_verdict_judges_nothing(status):
    made = record.from_results(
        results({"status": status, "reason": "upload", "message": "the file is empty"}), QUESTIONS, {}, {}
    )
    assert made.status.value == status and made.message == "the file is empty"
    assert not any(q.judged for q in made.questions)


def test_completed_requires_every_question_judged():
    unjudged = record.QuestionVerdict("q1a", 0.0, 2.0, False)
    with pytest.raises(record.RecordError):
        record.GradingRecord("abc", record.Status.COMPLETED, "graded", "", (unjudged,), {}, {})


@pytest.mark.parametrize(
    "change",
    [
        {"status": "done"},
        {"questions": [{"question": "q1a", "score": True, "max_score": 2, "judged": True}]},
        {"questions": [{"question": "q1a", "score": 1, "max_score": 2, "judged": "yes"}]},
        {"timings": {"verdict": "1 s"}},
        {"limits": None},
    ],
)
def test_a_record_of_another_shape_is_refused(tmp_path, change):
    good = record.from_results(results({"status": "completed"}), QUESTIONS, {"verdict": 1.0}, {}).to_json()
    (tmp_path / record.FILE).write_text(json.dumps({**good, **change}))
    with pytest.raises(record.RecordError):
        record.read(tmp_path)


def test_no_record_or_not_json_is_refused(tmp_path):
    with pytest.raises(record.RecordError):
        record.read(tmp_path)
    (tmp_path / record.FILE).write_text("{not json")
    with pytest.raises(record.RecordError):
        record.read(tmp_path)
