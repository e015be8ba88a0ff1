"""Student notebooks run as students run them, and what their ``grader.check`` cells printed.

* ``execute(nb, folder, ...)`` runs a notebook in a real Jupyter kernel whose working folder is ``folder``:
  as Jupyter runs it (the notebook saved there under any name, ``tests/`` beside it or not), or as Colab runs
  it (``colab=True``: the notebook is not on the kernel's disk, and the kernel's shell is a stand-in
  ``google.colab._shell.Shell``, as on Colab, which is how Otter recognises Colab).
* ``checks(nb)``: ``{question: (passed, message)}`` from the executed ``grader.check`` cells.
* ``truncated(nb, questions)``: the notebook cut to what the self-checks of ``questions`` need (Problems 1-3
  always, Problem 4 and 5 only when asked for, up to the last of those questions' checks).

``python -m tests.helpers.self_check_runs --release DIR [--doc docs/checks.md] [--json FILE]`` runs every mutant of
``students.MUTANTS`` (each cut to its questions) and every correct style (in full) through the public
self-checks alone, two kernels at a time, and writes the mutant -> self-check table of docs/checks.md.
"""

import argparse
import json
import multiprocessing
import os
import pathlib
import re
import shutil
import time

import nbformat

NB = "hw1.ipynb"
CHECK = re.compile(r'^grader\.check\("(\w+)"\)')
PROBLEM = re.compile(r"^##\s+(Problem\s+(\d+)|Submission)\b", re.M)

STUB = {  # a stand-in for Colab's package: its kernel class and shell class, at Colab's module paths
    "google/__init__.py": "",
    "google/colab/__init__.py": '"""A stand-in for Colab\'s google.colab (tests only)."""\n',
    "google/colab/_shell.py": (
        "from ipykernel.zmqshell import ZMQInteractiveShell\n\n\n"
        'class Shell(ZMQInteractiveShell):\n    """Colab\'s shell has this module path."""\n'
    ),
    "google/colab/_kernel.py": (
        "from ipykernel.ipkernel import IPythonKernel\nfrom traitlets import Type\n\n"
        "from google.colab._shell import Shell\n\n\n"
        "class Kernel(IPythonKernel):\n    shell_class = Type(Shell)\n"
    ),
}
COLAB_KERNEL = "--IPKernelApp.kernel_class=google.colab._kernel.Kernel"


def colab_stub(folder):
    """Writes the stand-in google.colab package into folder; returns the folder (for PYTHONPATH)."""
    folder = pathlib.Path(folder)
    for name, text in STUB.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def execute(nb, folder, *, tests=None, name=NB, colab=False, timeout=900, env=None):
    """Runs nb in a fresh kernel working in folder; returns the executed notebook (also saved as folder/name,
    unless colab). tests: a tests/ folder to put beside it (else the notebook's first cell writes its own)."""
    from nbclient import NotebookClient

    from tools.data_cache import data_environment

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if tests is not None:
        shutil.copytree(tests, folder / "tests")
    env = dict(env or data_environment(threads=1))
    extra = []
    if colab:
        stub = colab_stub(folder.parent / f"{folder.name}-colab-package")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(stub), env.get("PYTHONPATH")) if p)
        extra = [COLAB_KERNEL]
    else:
        nbformat.write(nb, folder / name)  # saved, as a student saves it before running it
    for cell in nb.cells:  # the export cell runs too: it is part of what is tested
        cell.metadata.pop("execution", None)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        extra_arguments=extra,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute(env=env)
    if not colab:
        nbformat.write(nb, folder / f"{pathlib.Path(name).stem}.executed.ipynb")
    return nb


def printed(cell):
    return "\n".join(
        o.get("text", "")
        + "".join(o.get("data", {}).get("text/plain", ""))
        + (f"{o.get('ename')}: {o.get('evalue')}" if o.get("output_type") == "error" else "")
        for o in cell.outputs
    )


def failure_message(text):
    """The self-check's own sentence from a failed check's output."""
    found = re.findall(r"^\s*(\w+(?:Error|Exception)): (.*)$", text, flags=re.M)
    return (
        f"{found[-1][0]}: {found[-1][1]}" if found else text.strip().splitlines()[-1] if text.strip() else "(no output)"
    )


def check_texts(nb):
    """{question: everything its executed grader.check cell printed}."""
    return {question_of(cell): printed(cell) for cell in nb.cells if question_of(cell)}


def checks(nb):
    """{question: (passed, message)} for every executed grader.check cell."""
    out = {}
    for question, text in check_texts(nb).items():
        passed = "All test cases passed!" in text and "failed" not in text
        out[question] = (passed, "" if passed else failure_message(text))
    return out


def short_training(nb):
    """nb with one epoch of training in Problem 4 (EPOCHS = 1) and in Problem 5 (its loop's range(3)): what the
    checks of a function's contract need, in a fraction of the time (the accuracy bars of 4(c) then do not hold)."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = re.sub(r"^EPOCHS = \d+", "EPOCHS = 1", cell.source, flags=re.M)
            cell.source = cell.source.replace("for epoch in range(3):", "for epoch in range(1):")
    return nb


def question_of(cell):
    match = CHECK.match(cell.source) if cell.cell_type == "code" else None
    return match.group(1) if match else None


def truncated(nb, questions, full=False):
    """nb cut to what the checks of questions need: Problems 1-3, Problem 4 or 5 only if a question is there, and
    nothing after the last of those questions' checks (the submission cell neither). full: the whole notebook."""
    if full:
        return nb
    problems = {int(q[1]) for q in questions if q[:2] in ("q4", "q5")}
    keep, section = [], 0
    last = max(i for i, c in enumerate(nb.cells) if question_of(c) in questions) if questions else len(nb.cells) - 1
    for i, cell in enumerate(nb.cells):
        heading = PROBLEM.search(cell.source) if cell.cell_type == "markdown" else None
        if heading:
            section = int(heading.group(2)) if heading.group(2) else 99
        if i > last:
            break
        if section <= 3 or section in problems:
            keep.append(cell)
    cut = nbformat.from_dict(nb)
    cut.cells = keep
    return cut


def _run(job):
    """One notebook of the measurement (in a worker process): (label, {question: (passed, message)}, seconds,
    {question: the check's whole printed text})."""
    label, nb_json, questions, full, folder = job
    nb = truncated(nbformat.reads(nb_json, as_version=4), questions, full)
    start = time.time()
    executed = execute(nb, pathlib.Path(folder) / label, tests=pathlib.Path(folder) / "tests")
    return label, checks(executed), time.time() - start, check_texts(executed)


def run_many(work, release, folder, jobs=2):
    """Runs [(label, nb, questions, full)] two kernels at a time beside the release's public tests only:
    {label: ({question: (passed, message)}, seconds, {question: printed text})}."""
    release, folder = pathlib.Path(release), pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder / "tests", ignore_errors=True)
    shutil.copytree(release / "student" / "tests", folder / "tests")
    jobs_ = [(label, nbformat.writes(nb), questions, full, str(folder)) for label, nb, questions, full in work]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        return {label: (found, seconds, texts) for label, found, seconds, texts in pool.imap_unordered(_run, jobs_)}


def grouped_mutant(names, student):
    """One notebook with the faults of several mutants of one base that change different cells (none may share a cell)."""
    from tests.corpus import students

    mutants = [students.MUTANTS[name] for name in names]
    assert len({m.base for m in mutants}) == 1, f"{names}: the mutants have different bases"
    keys = [key for m in mutants for key in m.answers_override]
    assert len(keys) == len(set(keys)), f"{names}: two mutants change the same cell"
    answers = dict(students.BASES[mutants[0].base].answers)
    for mutant in mutants:
        own = students.mutant_answers(mutant)
        answers.update({key: own[key] for key in mutant.answers_override})
    return students.fill(nbformat.read(student, as_version=4), answers)


def measure(release, folder, jobs=2, names=None, styles=None):
    """Runs the mutants (each cut to its own questions) and the correct styles (in full) through the self-checks.
    Returns {label: {"questions": [...], "checks": {...}, "seconds": s, "kind": "mutant" | "correct"}}."""
    from tests.corpus import students

    release, folder = pathlib.Path(release), pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder / "tests", ignore_errors=True)
    shutil.copytree(release / "student" / "tests", folder / "tests")
    student = release / "student" / NB
    work, meta = [], {}
    for name in students.MUTANTS if names is None else names:
        mutant = students.MUTANTS[name]
        questions = sorted({q for _, qs in mutant.faults for q in qs})
        nb = students.build_mutant(name, student)
        work.append((name, nbformat.writes(nb), questions, False, str(folder)))
        meta[name] = {"kind": "mutant", "questions": questions, "why": mutant.faults[0][0]}
    for name in students.CORRECT if styles is None else styles:
        nb = students.build_correct(name, student)
        work.append((f"correct_{name}", nbformat.writes(nb), [], True, str(folder)))
        meta[f"correct_{name}"] = {"kind": "correct", "questions": []}
    work.sort(key=lambda job: not job[3] and not any(q.startswith("q4") for q in job[2]))  # the long ones first
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        for label, found, seconds, _ in pool.imap_unordered(_run, work):
            meta[label].update(checks=found, seconds=round(seconds, 1))
            print(
                f"{label}: {seconds:.0f} s, failing {sorted(q for q, (ok, _) in found.items() if not ok)}", flush=True
            )
    return meta


BEGIN = "<!-- BEGIN SELF-CHECKS: generated by tests/helpers/self_check_runs.py --doc from a measured run -->"
END = "<!-- END SELF-CHECKS -->"


def table(meta):
    """The docs/checks.md block: one row per mutant, which self-checks fail, and a count per self-check."""
    mutants = {k: v for k, v in meta.items() if v["kind"] == "mutant"}
    correct = {k: v for k, v in meta.items() if v["kind"] == "correct"}
    own = {k: [q for q, (ok, _) in v["checks"].items() if not ok and q in v["questions"]] for k, v in mutants.items()}
    other = {
        k: [q for q, (ok, _) in v["checks"].items() if not ok and q not in v["questions"]] for k, v in mutants.items()
    }
    caught_own = sum(bool(v) for v in own.values())
    caught_any = sum(bool(own[k] or other[k]) for k in mutants)
    false_alarms = {k: [q for q, (ok, _) in v["checks"].items() if not ok] for k, v in correct.items()}
    lines = [
        BEGIN,
        "",
        f"Measured: {len(mutants)} mutants of `tests/students.py`, each run (cut to the problems its questions need) "
        f"through the public self-checks alone. **{caught_own} are caught by the self-check of a question the mistake "
        f"costs**, {caught_any} by some self-check; {len(mutants) - caught_any} pass every self-check (the hidden tests "
        f"catch them). The {len(correct)} correct styles, run in full: "
        + (
            "no self-check fails."
            if not any(false_alarms.values())
            else "self-checks fail on " + ", ".join(f"{k} ({', '.join(v)})" for k, v in false_alarms.items() if v) + "."
        )
        + f" Total run time {sum(v.get('seconds', 0) for v in meta.values()) / 60:.0f} min of kernel time.",
        "",
        "| mutant | questions it costs | self-checks that fail | the message (first failing check of its questions) |",
        "| --- | --- | --- | --- |",
    ]
    for name, v in mutants.items():
        failing = [f"**{q}**" for q in own[name]] + other[name]
        message = next((v["checks"][q][1] for q in own[name]), next((v["checks"][q][1] for q in other[name]), ""))
        message = message.replace("|", "\\|").replace("\n", " ")
        if len(message) > 160:
            message = message[:157] + "..."
        lines.append(f"| {name} | {', '.join(v['questions'])} | {', '.join(failing) or 'none'} | {message} |")
    counts = {}
    for name in mutants:
        for q in own[name]:
            counts[q] = counts.get(q, 0) + 1
    lines += [
        "",
        "Mutants each self-check catches (of those that cost its question): "
        + ", ".join(f"{q} {n}" for q, n in sorted(counts.items()))
        + ".",
        "",
        END,
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--release", type=pathlib.Path, required=True, help="a built release (python -m tools.build.release --out)"
    )
    parser.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/hw1-self-checks"))
    parser.add_argument("--json", type=pathlib.Path, help="write (or, with --from-json, read) the measurement here")
    parser.add_argument("--from-json", action="store_true", help="make the table from --json without running anything")
    parser.add_argument(
        "--doc", type=pathlib.Path, help="write the table between its markers in this Markdown file (docs/checks.md)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.from_json:
        meta = json.loads(args.json.read_text())
    else:
        meta = measure(args.release, args.work, jobs=args.jobs)
        if args.json:
            args.json.write_text(json.dumps(meta, indent=1))
    block = table(meta)
    print(block)
    if args.doc:
        text = args.doc.read_text()
        head, rest = text.split(BEGIN, 1)
        args.doc.write_text(head + block + rest.split(END, 1)[1])


if __name__ == "__main__":
    main()
