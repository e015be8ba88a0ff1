"""The trusted phase: reads the handed-over answers, runs every check, writes the results.

Runs as root in a fresh ``python -I`` process after every process of the student's user
has ended. It trusts nothing but its own code, its inputs and the verified datasets.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import checks, handover, inputs, otter_pickle, policy
from .errors import GraderFault
from .reference import Mismatch

PUBLISHED = policy.HIDDEN_RESULTS_VISIBILITY
FEEDBACK = "Your submission: what ran, what was handed over"
# results.json's extra_data.status: {"status": one of these, "reason": a code, "message": the sentence shown for it};
# make grade reads these fields, never the prose of the entries
COMPLETED, REJECTED, GRADER_FAULT = "completed", "rejected", "grader_fault"
Case = tuple[str, float, bool, str]  # (what is checked, its points, passed, the message for the student)
Graded = dict[str, list[Case]]  # question: its cases
StatusFields = tuple[str, str, str]  # (status, reason code, the sentence shown for it)

# --- the student's text, quoted -----------------------------------------------------------------
# handover.read marks every string that the student's notebook handed over; it reaches the
# checks' messages by formatting. Here each marked piece becomes a quote with a label, so that no
# text of the student's is ever shown as the grader's own words.
QUOTE_LABEL = "(quoted from your submission)"
_MARKED = re.compile(
    re.escape(handover.STUDENT_OPEN)
    + "([^"
    + re.escape(handover.STUDENT_CLOSE)
    + "]*)(?:"
    + re.escape(handover.STUDENT_CLOSE)
    + "|$)"
)
_DOUBLE_QUOTES = dict.fromkeys(map(ord, '"\u201c\u201d\u201e\u201f\u2033\u2036\u301d\u301e\uff02'), "'")


def quote(text: object, limit: int = handover.MAX_TEXT) -> str:
    """The student's text, cleaned, in double quotes (none inside) and labelled as the student's."""
    text = handover.clean_text(str(text).replace("\\ue000", "").replace("\\ue001", ""), limit)
    return f'"{text.translate(_DOUBLE_QUOTES)}" {QUOTE_LABEL}'


def render(message: object, limit: int = 1000) -> str:
    """A message as the student sees it: marked pieces quoted with their label, all on one line."""
    text = _MARKED.sub(lambda m: quote(m.group(1)), str(message))
    text = text.replace(handover.STUDENT_CLOSE, "")
    return handover.clean_text(text, limit)


def unexpected(error: BaseException) -> str:
    """A check stopped on data it did not expect: the error's type, and its text quoted as possibly the student's."""
    text = _MARKED.sub(lambda m: m.group(1), str(error))
    return f"your answer could not be checked ({type(error).__name__} on your handed-over data: {quote(text)})"


class Context:
    """What a check may use besides its own question's data: datasets, other questions' answers, flags."""

    def __init__(
        self,
        datasets: inputs.Datasets,
        work: pathlib.Path,
        answers: pathlib.Path,
        expected: Mapping[str, Any] | None = None,
        collected: Mapping[str, str] | None = None,
    ) -> None:
        self.datasets = OwnData(datasets)
        self.cache: dict[str, Any] = {}  # one question's shared results (e.g. the accuracy both bars read)
        self.flags: list[str] = []
        self.work, self.answer_dir = work, answers
        self.precomputed = dict(expected or {})
        self.collected = collected  # {question: "whole", "none", "size" or "kind"}: what the route copied out

    def inputs(self, question: str) -> inputs.Inputs:
        """The grader's own inputs: a failure to read them is the grader's, never the student's."""
        try:
            return inputs.load(self.work / "inputs", question)
        except Exception as error:
            raise GraderFault(f"the inputs of {question} could not be read ({type(error).__name__})") from error

    def expected(self, question: str) -> Any:
        """The question's references from its inputs alone (checks.EXPECTED): the cached ones, else computed now."""
        if question not in self.precomputed:
            try:
                self.precomputed[question] = checks.EXPECTED[question](self.inputs(question))
            except GraderFault:
                raise
            except Exception as error:
                raise GraderFault(f"the references of {question} failed ({type(error).__name__})") from error
        return self.precomputed[question]

    def answers(self, question: str) -> Any:
        """The question's hand-over as the route copied it out, or the grader's reason for refusing it."""
        refused = (self.collected or {}).get(question)
        if refused in REFUSED:
            return {"@unreadable": True, "@refused": REFUSED[refused](question), "@refused_for": refused}
        try:
            return handover.read(self.answer_dir, question)
        except handover.Refused as error:  # the grader's own words: a bomb, a link, a file too large
            return {"@unreadable": True, "@refused": str(error)}
        except Exception as error:  # its text may quote the file: only the kind of error is named
            return {"@unreadable": True, "@refused": f"they could not be read as plain data ({type(error).__name__})"}

    def flag(self, note: str) -> None:
        self.flags.append(note)


class OwnData:
    """The verified datasets, as the checks read them: a failure to read them is the grader's, never the student's."""

    def __init__(self, splits: inputs.Datasets) -> None:
        self.splits = splits

    def _own(self, read: Callable[..., inputs.Pair], *args: Any) -> inputs.Pair:
        try:
            return read(*args)
        except Exception as error:
            raise GraderFault(f"the datasets could not be read ({type(error).__name__}: {error})") from error

    def __call__(self, name: str, split: str) -> inputs.Pair:
        return self._own(self.splits, name, split)

    def training_sample(self, name: str) -> inputs.Pair:
        return self._own(self.splits.training_sample, name)


REFUSED: dict[
    str, Callable[[str], str]
] = {  # the route's reasons for copying none of a question's hand-over (handover.collect), in the grader's words
    "size": lambda q: (
        f"the data handed over for {q} was larger than the grader accepts for it "
        f"({handover.question_cap(q) // handover.KB} KB) and was refused unread"
    ),
    "kind": lambda q: f"the hand-over of {q} was not a plain file written by your notebook and was refused unread",
}


def grade(
    work: pathlib.Path,
    answers: pathlib.Path,
    datasets: inputs.Datasets,
    questions: Iterable[str],
    handed_over: dict[str, str] | None = None,
    expected: Mapping[str, Any] | None = None,
    collected: Mapping[str, str] | None = None,
) -> tuple[Graded, list[str]]:
    """{question: [(what, points, passed, message)]} and the integrity flags; each message is rendered
    (the student's text quoted and labelled). ``handed_over``, a dict, receives each question's answer_status;
    ``expected``: the references of checks.EXPECTED precomputed for these inputs (else computed as needed);
    ``collected``: what the route copied out ({question: "whole", "none", "size", "kind"}).
    Raises GraderFault when the grader's own inputs, datasets or references fail: never a grade."""
    ctx = Context(datasets, work, answers, expected, collected)
    points = checks.question_points()
    graded: Graded = {}
    for question in questions:
        inp = ctx.inputs(question)
        out = ctx.answers(question)  # unreadable answers (a planted file, not plain data) become a failure
        if handed_over is not None:
            handed_over[question] = answer_status(out)
        ctx.cache = {}
        cases: list[Case] = []
        for what, share, check in checks.case_points(question, points):
            try:
                check(inp, out, ctx)
                cases.append((what, share, True, ""))
            except Mismatch as error:
                cases.append((what, share, False, render(error)))
            except GraderFault:
                raise
            except Exception as error:  # malformed answers: the student's data, never a crash of the grader
                cases.append((what, share, False, render(unexpected(error))))
        graded[question] = cases
    return graded, ctx.flags


def question_output(cases: Iterable[Case]) -> str:
    lines = []
    for what, points, passed, message in cases:
        lines.append(f"{'passed' if passed else 'failed'} ({points if passed else 0}/{points}): {what}")
        if message:
            lines.append(f"    {render(message)}")
    return "\n".join(lines)


# --- what the student sees at once --------------------------------------------------------------


def answer_status(out: object) -> str:
    """What one question's hand-over holds, as a key of HANDED_OVER (never the student's text)."""
    if out is None:
        return "none"
    if not isinstance(out, dict):
        return "handed_over"
    if out.get("@unreadable") is True:
        return {"size": "refused_size", "kind": "refused_kind"}.get(str(out.get("@refused_for")), "unreadable")
    if "@probe_error" in out:
        return "raised"
    if "@missing" in out:
        return "undefined"
    notes: set[str] = set()

    def find(value: object, depth: int) -> None:
        values: Iterable[object]
        if isinstance(value, dict):
            notes.update(k for k in ("@missing", "@error", "@probe_error", "@type") if k in value)
            values = value.values()
        elif isinstance(value, list):
            values = value
        else:
            return
        if depth < 4:
            for v in values:
                find(v, depth + 1)

    for v in out.values():
        find(v, 0)
    if "@missing" in notes:
        return "partly_undefined"
    if "@error" in notes or "@probe_error" in notes:
        return "partly_raised"
    if "@type" in notes:
        return "partly_typed"
    return "handed_over"


HANDED_OVER = {  # in the order shown
    "handed_over": "answer handed over",
    "partly_raised": "answer handed over, but your code raised an error on some of the grader's inputs",
    "partly_undefined": "answer handed over, but a name that it needs is not defined in your notebook",
    "partly_typed": "answer handed over, but some of its values are not of the kind the question asks for "
    "(a ... placeholder left in?)",
    "raised": "no answer: your code raised an error (or could not be called as the question describes)",
    "undefined": "no answer: a name that the question needs is not defined in your notebook",
    "unreadable": "no answer: the handed-over file could not be read as plain data",
    "refused_size": "no answer: more data was handed over than the grader accepts for the question (refused unread)",
    "refused_kind": "no answer: the handed-over file was not a plain file of your notebook's (refused unread)",
    "stopped": "no answer: your notebook stopped before the question's check ran",
    "none": "no answer: the question's check did not finish (its grader.check cell was removed or not reached, "
    "or it ran over the time limit per cell)",
}
WHEN_PUBLISHED = {
    "after_published": "when your instructor publishes the grades",
    "after_due_date": "after the due date",
    "visible": "now",
    "hidden": "never (your instructor keeps them hidden)",
}


def phase_lines(phase: Mapping[str, Any]) -> list[str]:
    """Whether the notebook ran to the end, and in how long: the route's own record of the phase (its clock, the
    runner's exit), never a number from a record that the student's code could write."""
    seconds = phase.get("seconds")
    took = (
        f"{seconds:.0f} s" if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else "an unknown time"
    )
    ended = phase.get("ended")
    if ended == "end":
        return [f"Your notebook ran to the end in {took}."]
    if ended == "time limit" and phase.get("stopped_by") == "wall":
        return [
            f"Your notebook did not run to the end: grading stopped it after {took} on the clock, the last-resort "
            f"limit for the whole notebook ({phase.get('wall_cap', '?')} s), while it was waiting, not computing."
        ]
    if ended == "time limit":
        return [
            f"Your notebook did not run to the end: grading stopped it after {took}, once it had used the CPU time "
            f"allowed for the whole notebook ({phase.get('phase_limit', '?')} s)."
        ]
    if ended == "stopped early":
        return [
            f"Your notebook did not run to the end: its kernel died after {took} (os._exit, sys.exit, "
            "a kill, or running out of memory)."
        ]
    return ["Your notebook's run was not recorded."]


def feedback(
    questions: Sequence[str], handed_over: Mapping[str, str], phase: Mapping[str, Any], visibility: str = PUBLISHED
) -> str:
    """The visible entry: how the notebook's run ended and what each question handed over, in the grader's words
    only. The self-checks' results are not repeated here: they come from the student's own process, whose record
    the student's code can rewrite (grader.check shows them in the notebook)."""
    stopped = phase.get("ended") in ("time limit", "stopped early")
    status = {q: handed_over.get(q, "none") for q in questions}
    status = {q: "stopped" if v == "none" and stopped else v for q, v in status.items()}
    lines = phase_lines(phase)
    lines += ["", "Answers handed over to the grader, per autograded question:"]
    for key, words in HANDED_OVER.items():
        listed = [q for q in questions if status[q] == key]
        if listed:
            lines.append(f"  {words}: {', '.join(listed)}")
    lines += [
        "",
        "Your self-checks (grader.check) are not repeated here: run them in your notebook. They carry no points; "
        "the hidden checks that give the points are separate.",
        "",
        f"Per-question results and points are shown {WHEN_PUBLISHED.get(visibility, 'later')}.",
    ]
    return "\n".join(lines)


def gradescope_results(
    graded: Graded,
    notes: Iterable[str],
    flags: list[str],
    autograder_id: str,
    show_hidden: bool = True,
    summary: str | None = None,
    status: StatusFields = (COMPLETED, "", ""),
) -> dict[str, Any]:
    tests: list[dict[str, Any]] = [
        {
            "name": "Grading notes",
            "visibility": "visible",
            "output": "\n".join(render(n) for n in notes),
            "status": "passed",
        }
    ]
    if summary is not None:
        tests.append({"name": FEEDBACK, "visibility": "visible", "output": summary, "status": "passed"})
    total = 0.0
    for question, cases in graded.items():
        score = round(sum(points for _, points, passed, _ in cases if passed), 2)
        total += score
        tests.append(
            {
                "name": question,
                "score": score,
                "max_score": round(sum(p for _, p, _, _ in cases), 2),
                "visibility": PUBLISHED if show_hidden else "hidden",
                "output": question_output(cases),
            }
        )
    if flags:
        tests.append({"name": "Integrity flags (instructors only)", "visibility": "hidden", "output": "\n".join(flags)})
    return {
        "score": round(total, 2),
        "tests": tests,
        "stdout_visibility": "hidden",
        "extra_data": {
            "autograder": autograder_id,
            "flags": flags,
            "status": dict(zip(("status", "reason", "message"), status)),
        },
    }


def otter_files(graded: Graded) -> list[dict[str, Any]]:
    """The verdict in the Ottr JSON form that Otter's GradingResults.from_ottr_json reads."""
    files = []
    for question, cases in graded.items():
        files.append(
            {
                "filename": f"tests/{question}.py",
                "points": None,
                "test_case_results": [
                    {
                        "test_case": {
                            "name": f"{question} - {what}",
                            "code": "",
                            "hidden": True,
                            "points": points,
                            "success_message": None,
                            "failure_message": None,
                        },
                        "error": render(message) if message else message,
                        "passed": passed,
                    }
                    for what, points, passed, message in cases
                ],
            }
        )
    return files


def otter_plugin_data(flags: list[str], autograder_id: str) -> dict[str, Any]:
    return {"autograder": autograder_id, "flags": flags}


def write(
    results_dir: str | pathlib.Path,
    graded: Graded,
    notes: Iterable[str],
    flags: list[str],
    autograder_id: str,
    show_hidden: bool = True,
    summary: str | None = None,
    status: StatusFields = (COMPLETED, "", ""),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """results.pkl, then results.json, each written whole or not at all (a temporary file renamed into place):
    a full disk leaves no half a result. ``status``: (COMPLETED, REJECTED or GRADER_FAULT, a reason code, the
    sentence shown for it, rendered)."""
    folder = pathlib.Path(results_dir)
    payload = gradescope_results(graded, notes, flags, autograder_id, show_hidden, summary, status)
    payload["extra_data"].update(extra or {})
    # Otter's GradingResults for otter grade's host (dill.load reads a plain pickle), without importing Otter
    pickled = otter_pickle.dumps(otter_files(graded), {"hw1": otter_plugin_data(flags, autograder_id)})
    for name, data in (("results.pkl", pickled), ("results.json", json.dumps(payload, indent=2).encode())):
        partial = folder / f".{name}.partial"
        partial.write_bytes(data)
        os.replace(partial, folder / name)
    return payload


def not_graded(questions: Iterable[str], reason: str) -> Graded:
    """Every question 0, each saying why: for uploads that cannot be graded at all."""
    points = checks.question_points()
    return {q: [(what, share, False, reason) for what, share, _ in checks.case_points(q, points)] for q in questions}


def read_own(path: str | pathlib.Path) -> Any:
    """A file of root's own (the route's records): a failure to read it is the grader's."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except Exception as error:
        raise GraderFault(f"{pathlib.Path(path).name} could not be read ({type(error).__name__})") from error


def main(
    work: str | pathlib.Path,
    answers: str | pathlib.Path,
    results_dir: str | pathlib.Path,
    notes: list[str],
    autograder_id: str,
    data_root: str | None = None,
    datasets: inputs.Datasets | None = None,
    expected: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``datasets``: the verified splits already read by the same trusted process (its inputs step), or None;
    ``expected``: this zip's cached references (checks.EXPECTED), or None. Raises GraderFault on the grader's
    own failures (the route then writes a grader-fault result)."""
    work = pathlib.Path(work)
    timings = read_own(work / "timings.json")
    phase = read_own(work / "phase.json")  # the route's own record of the student phase
    collected = read_own(work / "collected.json")["questions"]  # what the route copied out of the hand-over
    questions = list(checks.CASES)
    handed_over: dict[str, str] = {}
    graded, flags = grade(
        work, pathlib.Path(answers), datasets or inputs.Datasets(data_root), questions, handed_over, expected, collected
    )
    summary = feedback(questions, handed_over, phase)
    facts_file = work / "route_facts.json"  # the route's isolation and hand-over figures (instructors' eyes only)
    facts = read_own(facts_file) if facts_file.exists() else {}
    extra = {"timings": timings, **{k: v for k, v in facts.items() if v}}
    return write(results_dir, graded, notes, flags, autograder_id, summary=summary, extra=extra)
