"""The trusted phase: reads the handed-over answers, runs every check, writes the results.

Runs as root in a fresh ``python -I`` process after every process of the student's user
has ended. It trusts nothing but its own code, its inputs and the verified datasets.
"""

import json
import pathlib
import re

from . import checks, handover, inputs, otter_pickle, policy
from .reference import Mismatch

PUBLISHED = policy.HIDDEN_RESULTS_VISIBILITY
FEEDBACK = "Your submission: what ran, what was handed over, self-checks"

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


def quote(text, limit=handover.MAX_TEXT):
    """The student's text, cleaned, in double quotes (none inside) and labelled as the student's."""
    text = handover.clean_text(str(text).replace("\\ue000", "").replace("\\ue001", ""), limit)
    return f'"{text.translate(_DOUBLE_QUOTES)}" {QUOTE_LABEL}'


def render(message, limit=1000):
    """A message as the student sees it: marked pieces quoted with their label, all on one line."""
    message = _MARKED.sub(lambda m: quote(m.group(1)), str(message))
    message = message.replace(handover.STUDENT_CLOSE, "")
    return handover.clean_text(message, limit)


def unexpected(error):
    """A check stopped on data it did not expect: the error's type, and its text quoted as possibly the student's."""
    text = _MARKED.sub(lambda m: m.group(1), str(error))
    return f"your answer could not be checked ({type(error).__name__} on your handed-over data: {quote(text)})"


class Context:
    """What a check may use besides its own question's data: datasets, other questions' answers, flags."""

    def __init__(self, datasets, work, answers, expected=None):
        self.datasets, self.cache, self.flags = datasets, {}, []
        self.work, self.answer_dir = work, answers
        self.precomputed = dict(expected or {})

    def inputs(self, question):
        return inputs.load(self.work / "inputs", question)

    def expected(self, question):
        """The question's references from its inputs alone (checks.EXPECTED): the cached ones, else computed now."""
        if question not in self.precomputed:
            self.precomputed[question] = checks.EXPECTED[question](self.inputs(question))
        return self.precomputed[question]

    def answers(self, question):
        try:
            return handover.read(self.answer_dir, question)
        except handover.Refused as error:  # the grader's own words: a bomb, a link, a file too large
            return {"@unreadable": True, "@refused": str(error)}
        except Exception as error:  # its text may quote the file: only the kind of error is named
            return {"@unreadable": True, "@refused": f"they could not be read as plain data ({type(error).__name__})"}

    def flag(self, note):
        self.flags.append(note)


def grade(work, answers, datasets, questions, handed_over=None, expected=None):
    """{question: [(what, points, passed, message)]} and the integrity flags; each message is rendered
    (the student's text quoted and labelled). ``handed_over``, a dict, receives each question's answer_status;
    ``expected``: the references of checks.EXPECTED precomputed for these inputs (else computed as needed)."""
    ctx = Context(datasets, work, answers, expected)
    points = checks.question_points()
    graded = {}
    for question in questions:
        inp = ctx.inputs(question)
        out = ctx.answers(question)  # unreadable answers (a planted file, not plain data) become a failure
        if handed_over is not None:
            handed_over[question] = answer_status(out)
        ctx.cache = {}
        cases = []
        for what, share, check in checks.case_points(question, points):
            try:
                check(inp, out, ctx)
                cases.append((what, share, True, ""))
            except Mismatch as error:
                cases.append((what, share, False, render(error)))
            except Exception as error:  # malformed answers: the student's data, never a crash of the grader
                cases.append((what, share, False, render(unexpected(error))))
        graded[question] = cases
    return graded, ctx.flags


def question_output(cases):
    lines = []
    for what, points, passed, message in cases:
        lines.append(f"{'passed' if passed else 'failed'} ({points if passed else 0}/{points}): {what}")
        if message:
            lines.append(f"    {render(message)}")
    return "\n".join(lines)


# --- what the student sees at once --------------------------------------------------------------


def answer_status(out):
    """What one question's hand-over holds, as a key of HANDED_OVER (never the student's text)."""
    if out is None:
        return "none"
    if not isinstance(out, dict):
        return "handed_over"
    if out.get("@unreadable") is True:
        return "unreadable"
    if "@probe_error" in out:
        return "raised"
    if "@missing" in out:
        return "undefined"
    notes = set()

    def find(value, depth):
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


def phase_lines(phase):
    """Whether the notebook ran to the end, and in how long, from the route's own record of the phase."""
    seconds = phase.get("seconds")
    took = f"{seconds:.0f} s" if isinstance(seconds, (int, float)) else "an unknown time"
    ended = phase.get("ended")
    if ended == "end":
        lines = [f"Your notebook ran to the end in {took}."]
    elif ended == "time limit":
        lines = [
            f"Your notebook did not run to the end: grading stopped it after {took}, at the time limit "
            f"for the whole notebook ({phase.get('phase_limit', '?')} s)."
        ]
    elif ended == "kernel died":
        lines = [
            f"Your notebook did not run to the end: its kernel died after {took} (os._exit, sys.exit, "
            "a kill, or running out of memory)."
        ]
    else:
        lines = ["Your notebook's run was not recorded."]
    raised, timed_out = phase.get("raised"), phase.get("timed_out")
    if isinstance(raised, int) and not isinstance(raised, bool) and raised > 0:
        lines.append(f"{raised} of its cells raised an error (the cells after an error still run).")
    if isinstance(timed_out, int) and not isinstance(timed_out, bool) and timed_out > 0:
        lines.append(
            f"{timed_out} of its cells ran over the time limit per cell ({phase.get('cell_limit', '?')} s) "
            "and were interrupted."
        )
    return lines


def feedback(questions, handed_over, public_checks, phase, visibility=PUBLISHED):
    """The visible entry: what ran, what was handed over, the self-checks; only the grader's words.

    ``public_checks`` is what the student phase recorded ({question: bool}): it is the student's to
    forge, so only a True or False under a known question is read, and it only words this entry.
    """
    public_checks = public_checks if isinstance(public_checks, dict) else {}
    stopped = phase.get("ended") in ("time limit", "kernel died")
    status = {q: handed_over.get(q, "none") for q in questions}
    status = {q: "stopped" if v == "none" and stopped else v for q, v in status.items()}
    lines = phase_lines(phase)
    lines += ["", "Answers handed over to the grader, per autograded question:"]
    for key, words in HANDED_OVER.items():
        listed = [q for q in questions if status[q] == key]
        if listed:
            lines.append(f"  {words}: {', '.join(listed)}")
    checked = {q: public_checks.get(q) for q in questions}
    lines += [
        "",
        "Your notebook's own self-checks, as grader.check runs them (the public tests: 0 points, "
        "for your information; the hidden checks that give the points are separate):",
    ]
    for value, words in (
        (True, "passed"),
        (False, "failed"),
        (None, "no result (Otter runs them after your notebook has ended; none was recorded)"),
    ):
        listed = [q for q in questions if checked[q] is value or (value is None and not isinstance(checked[q], bool))]
        if listed:
            lines.append(f"  {words}: {', '.join(listed)}")
    lines += ["", f"Per-question results and points are shown {WHEN_PUBLISHED.get(visibility, 'later')}."]
    return "\n".join(lines)


def gradescope_results(graded, notes, flags, autograder_id, show_hidden=True, summary=None):
    tests = [
        {
            "name": "Grading notes",
            "visibility": "visible",
            "output": "\n".join(render(n) for n in notes),
            "status": "passed",
        }
    ]
    if summary is not None:
        tests.append({"name": FEEDBACK, "visibility": "visible", "output": summary, "status": "passed"})
    total = 0
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
        "extra_data": {"autograder": autograder_id, "flags": flags},
    }


def otter_files(graded):
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


def otter_plugin_data(flags, autograder_id):
    return {"autograder": autograder_id, "flags": flags}


def write(results_dir, graded, notes, flags, autograder_id, show_hidden=True, summary=None):
    results_dir = pathlib.Path(results_dir)
    payload = gradescope_results(graded, notes, flags, autograder_id, show_hidden, summary)
    (results_dir / "results.json").write_text(json.dumps(payload, indent=2))
    # Otter's GradingResults for otter grade's host (dill.load reads a plain pickle), without importing Otter
    pickled = otter_pickle.dumps(otter_files(graded), {"hw1": otter_plugin_data(flags, autograder_id)})
    (results_dir / "results.pkl").write_bytes(pickled)
    return payload


def not_graded(questions, reason):
    """Every question 0, each saying why: for uploads that cannot be graded at all."""
    points = checks.question_points()
    return {q: [(what, share, False, reason) for what, share, _ in checks.case_points(q, points)] for q in questions}


def read_json(path):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return {}


def main(work, answers, results_dir, notes, autograder_id, data_root=None, datasets=None, expected=None):
    """``datasets``: the verified splits already read by the same trusted process (its inputs step), or None;
    ``expected``: this zip's cached references (checks.EXPECTED), or None."""
    work = pathlib.Path(work)
    timings = read_json(work / "timings.json")
    phase = read_json(work / "phase.json")  # the route's own record of the student phase
    questions = list(checks.CASES)
    datasets = datasets or inputs.Datasets(data_root)
    handed_over = {}
    graded, flags = grade(work, pathlib.Path(answers), datasets, questions, handed_over, expected)
    try:
        public_checks = handover.read(pathlib.Path(answers), "public_checks")  # the student phase's, not trusted
    except Exception:
        public_checks = None
    summary = feedback(questions, handed_over, public_checks, phase if isinstance(phase, dict) else {})
    payload = write(results_dir, graded, notes, flags, autograder_id, summary=summary)
    payload["extra_data"]["timings"] = timings
    (pathlib.Path(results_dir) / "results.json").write_text(json.dumps(payload, indent=2))
    return payload
