"""The trusted phase: reads the handed-over answers, runs every check, writes the results.

Runs as root in a fresh ``python -I`` process after every process of the student's user
has ended. It trusts nothing but its own code, its inputs and the verified datasets.
"""

import json
import pathlib

from . import checks, handover, inputs, policy
from .reference import Mismatch

PUBLISHED = policy.HIDDEN_RESULTS_VISIBILITY


class Context:
    """What a check may use besides its own question's data: datasets, other questions' answers, flags."""

    def __init__(self, datasets, work, answers):
        self.datasets, self.cache, self.flags = datasets, {}, []
        self.work, self.answer_dir = work, answers

    def inputs(self, question):
        return inputs.load(self.work / "inputs", question)

    def answers(self, question):
        try:
            return handover.read(self.answer_dir, question)
        except Exception as error:
            return {"@probe_error": f"the handed-over answers could not be read ({error})"}

    def flag(self, note):
        self.flags.append(note)


def grade(work, answers, datasets, questions):
    """{question: [(what, points, passed, message)]} and the integrity flags."""
    ctx = Context(datasets, work, answers)
    points = checks.question_points()
    graded = {}
    for question in questions:
        inp = ctx.inputs(question)
        out = ctx.answers(question)  # unreadable answers (a planted file, not plain data) become a failure
        ctx.cache = {}
        cases = []
        for what, share, check in checks.case_points(question, points):
            try:
                check(inp, out, ctx)
                cases.append((what, share, True, ""))
            except Mismatch as error:
                cases.append((what, share, False, str(error)))
            except Exception as error:  # malformed answers: the student's data, never a crash of the grader
                cases.append((what, share, False, f"your answer could not be checked ({type(error).__name__}: {error})"[:400]))
        graded[question] = cases
    return graded, ctx.flags


def question_output(cases):
    lines = []
    for what, points, passed, message in cases:
        lines.append(f"{'passed' if passed else 'failed'} ({points if passed else 0}/{points}): {what}")
        if message:
            lines.append(f"    {message}")
    return "\n".join(lines)


def gradescope_results(graded, notes, flags, autograder_id, show_hidden=True):
    tests = [{"name": "Grading notes", "visibility": "visible", "output": "\n".join(notes), "status": "passed"}]
    total = 0
    for question, cases in graded.items():
        score = round(sum(points for _, points, passed, _ in cases if passed), 2)
        total += score
        tests.append({"name": question, "score": score, "max_score": round(sum(p for _, p, _, _ in cases), 2),
                      "visibility": PUBLISHED if show_hidden else "hidden", "output": question_output(cases)})
    if flags:
        tests.append({"name": "Integrity flags (instructors only)", "visibility": "hidden", "output": "\n".join(flags)})
    return {"score": round(total, 2), "tests": tests, "stdout_visibility": "hidden",
            "extra_data": {"autograder": autograder_id, "flags": flags}}


def otter_results(graded, flags, autograder_id):
    """The same verdict as Otter's GradingResults, for ``otter grade``'s host to unpickle."""
    from otter.test_files import GradingResults

    files = []
    for question, cases in graded.items():
        files.append({
            "filename": f"tests/{question}.py",
            "points": None,
            "test_case_results": [
                {"test_case": {"name": f"{question} - {what}", "code": "", "hidden": True, "points": points,
                               "success_message": None, "failure_message": None},
                 "error": message, "passed": passed}
                for what, points, passed, message in cases
            ],
        })
    results = GradingResults.from_ottr_json(json.dumps({"test_file_results": files}))
    results.set_plugin_data("hw1", {"autograder": autograder_id, "flags": flags})
    return results


def write(results_dir, graded, notes, flags, autograder_id, show_hidden=True):
    import dill

    results_dir = pathlib.Path(results_dir)
    payload = gradescope_results(graded, notes, flags, autograder_id, show_hidden)
    (results_dir / "results.json").write_text(json.dumps(payload, indent=2))
    with open(results_dir / "results.pkl", "wb") as f:
        dill.dump(otter_results(graded, flags, autograder_id), f)
    return payload


def not_graded(questions, reason):
    """Every question 0, each saying why: for uploads that cannot be graded at all."""
    points = checks.question_points()
    return {q: [(what, share, False, reason) for what, share, _ in checks.case_points(q, points)] for q in questions}


def main(work, answers, results_dir, notes, autograder_id, data_root=None):
    work = pathlib.Path(work)
    timings = json.loads((work / "timings.json").read_text()) if (work / "timings.json").exists() else {}
    questions = list(checks.CASES)
    datasets = inputs.Datasets(data_root)
    graded, flags = grade(work, pathlib.Path(answers), datasets, questions)
    missing = [q for q, cases in graded.items() if any("no answer was handed over" in m for *_, m in cases)]
    if missing:
        notes = notes + [f"No answers were handed over for: {', '.join(missing)}. These questions score 0."]
    payload = write(results_dir, graded, notes, flags, autograder_id)
    payload["extra_data"]["timings"] = timings
    (pathlib.Path(results_dir) / "results.json").write_text(json.dumps(payload, indent=2))
    return payload
