"""Entry point of the trusted grader (``python -I hw1_trusted/__main__.py STEP ...``).

route [AUTOGRADER_DIR]                       grade one submission (run_autograder calls this)
serve WORK STATUS_FD [AUTOGRADER_ID]         prepare, say "inputs ready" on STATUS_FD, wait for one line on stdin
                                             (["verdict", RESULTS, AUTOGRADER_ID]), then the verdict with the same
                                             datasets and the cached references; "verdict done" (TrustedProcess)
prepare WORK [AUTOGRADER_ID]                 the probes' inputs into WORK/inputs: this zip's cached ones, else drawn
cache-inputs [AUTOGRADER_DIR]                draw this zip's inputs into the cache, with the references computed
                                             from them alone (setup.sh, at image build)
verdict WORK RESULTS AUTOGRADER_ID           check WORK/answers, write RESULTS/results.json and .pkl
reject WORK RESULTS AUTOGRADER_ID REASON     results for an upload that cannot be graded (status rejected)
"""

import importlib.machinery
import importlib.util
import json
import os
import pathlib
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from hw1_trusted import inputs


def _load_own_package() -> None:
    """hw1_trusted from this file's own, root-only, folder: -I keeps every other folder (the working one, the
    script's, PYTHONPATH) off sys.path, and nothing is added to it, so nothing beside the package can shadow it."""
    if "hw1_trusted" not in sys.modules:
        spec = importlib.machinery.ModuleSpec("hw1_trusted", None, is_package=True)
        spec.submodule_search_locations = [str(pathlib.Path(__file__).resolve().parent)]
        sys.modules["hw1_trusted"] = importlib.util.module_from_spec(spec)


_load_own_package()
from hw1_trusted import checks, route  # noqa: E402


def prepare(work: pathlib.Path, datasets: "inputs.Datasets", autograder_id: str | None = None) -> None:
    """The probes' inputs: this zip's cached ones (verified), else drawn from the secret seed and then cached."""
    from hw1_trusted import data, inputs

    folder, questions = work / "inputs", list(checks.CASES)
    folder.mkdir(exist_ok=True)
    if inputs.from_cache(folder, questions, autograder_id):
        data.require_present(datasets.root)  # no datasets, no grading: the verdict reads them (verified by MD5)
        return
    for question in questions:
        inputs.save(folder, question, inputs.generate(question, datasets))
    inputs.to_cache(folder, questions, autograder_id, datasets, lambda: checks.all_expected(folder))


def quick_exit() -> NoReturn:
    """Ends the process without the interpreter's teardown: with torch loaded it takes ~0.45 s, and every file
    of the step is already written and closed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str]) -> None:
    step, args = argv[0], argv[1:]
    if step == "route":
        route.main(args)
    elif step == "serve":
        from hw1_trusted import inputs

        work, datasets = pathlib.Path(args[0]), inputs.Datasets()
        prepare(work, datasets, args[2] if len(args) > 2 else None)
        with open(int(args[1]), "w") as status:
            # it waits idle: importing the verdict's own modules now would only move their CPU time into the
            # student phase on one CPU, and add their memory to the student's
            print("inputs ready", file=status, flush=True)
            request = json.loads(sys.stdin.readline() or "null")  # the route sends it once the student phase is over
            if not (isinstance(request, list) and len(request) == 3 and request[0] == "verdict"):
                return
            from hw1_trusted import verdict

            inputs.cached_datasets(datasets, args[2] if len(args) > 2 else None)  # else read from the data folder
            expected = inputs.cached_expected(args[2] if len(args) > 2 else None)  # else computed (torch) as needed
            notes = json.loads((work / "notes.json").read_text())
            verdict.main(work, work / "answers", request[1], notes, request[2], datasets=datasets, expected=expected)
            print("verdict done", file=status, flush=True)
        quick_exit()
    elif step == "prepare":
        from hw1_trusted import inputs

        prepare(pathlib.Path(args[0]), inputs.Datasets(), args[1] if len(args) > 1 else None)
    elif step == "cache-inputs":
        import tempfile

        from hw1_trusted import inputs, settings

        ag = pathlib.Path(args[0]) if args else pathlib.Path(settings.AUTOGRADER_DIR.value())
        autograder_id = (ag / "source" / "files" / "hw1_trusted" / "AUTOGRADER_ID").read_text().strip()
        with tempfile.TemporaryDirectory() as scratch:
            prepare(pathlib.Path(scratch), inputs.Datasets(), autograder_id)
    elif step == "verdict":
        from hw1_trusted import verdict

        work = pathlib.Path(args[0])
        notes = json.loads((work / "notes.json").read_text())
        verdict.main(work, work / "answers", args[1], notes, args[2])
        quick_exit()
    elif step == "reject":
        from hw1_trusted import verdict

        work = pathlib.Path(args[0])
        notes = json.loads((work / "notes.json").read_text())
        graded = verdict.not_graded(list(checks.CASES), "not graded: " + args[3])
        verdict.write(args[1], graded, notes, [], args[2], status=(verdict.REJECTED, "upload", verdict.render(args[3])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
