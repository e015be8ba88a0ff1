"""Entry point of the trusted grader (``python -I hw1_trusted/__main__.py STEP ...``).

route [AUTOGRADER_DIR]                       grade one submission (run_autograder calls this)
serve WORK STATUS_FD                         prepare, say "inputs ready" on STATUS_FD, wait for one line on stdin
                                             (["verdict", RESULTS, AUTOGRADER_ID]), then the verdict with the same
                                             torch and datasets; "verdict done" (the route's TrustedProcess)
prepare WORK                                 draw the probes' inputs into WORK/inputs
verdict WORK RESULTS AUTOGRADER_ID           check WORK/answers, write RESULTS/results.json and .pkl
reject WORK RESULTS AUTOGRADER_ID REASON     results for an upload that cannot be graded
"""

import json
import pathlib
import sys

# -I leaves the script's folder off sys.path: the package is imported from its own, root-only, location
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from hw1_trusted import checks, route  # noqa: E402


def threads():
    from hw1_trusted import settings

    n = settings.THREADS.value()
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass


def prepare(work, datasets):
    from hw1_trusted import inputs

    (work / "inputs").mkdir(exist_ok=True)
    for question in checks.CASES:
        inputs.save(work / "inputs", question, inputs.generate(question, datasets))


def main(argv):
    step, args = argv[0], argv[1:]
    if step == "route":
        route.main(args)
    elif step == "serve":
        threads()
        from hw1_trusted import inputs, verdict

        work, datasets = pathlib.Path(args[0]), inputs.Datasets()
        prepare(work, datasets)
        with open(int(args[1]), "w") as status:
            # it waits idle: importing the verdict's own modules now would only move their CPU time into the
            # student phase on one CPU, and add their memory to the student's
            print("inputs ready", file=status, flush=True)
            request = json.loads(sys.stdin.readline() or "null")  # the route sends it once the student phase is over
            if not (isinstance(request, list) and len(request) == 3 and request[0] == "verdict"):
                return
            notes = json.loads((work / "notes.json").read_text())
            verdict.main(work, work / "answers", request[1], notes, request[2], datasets=datasets)
            print("verdict done", file=status, flush=True)
    elif step == "prepare":
        threads()
        from hw1_trusted import inputs

        prepare(pathlib.Path(args[0]), inputs.Datasets())
    elif step == "verdict":
        threads()
        from hw1_trusted import verdict

        work = pathlib.Path(args[0])
        notes = json.loads((work / "notes.json").read_text())
        verdict.main(work, work / "answers", args[1], notes, args[2])
    elif step == "reject":
        from hw1_trusted import verdict

        work = pathlib.Path(args[0])
        notes = json.loads((work / "notes.json").read_text())
        graded = verdict.not_graded(list(checks.CASES), "not graded: " + args[3])
        verdict.write(args[1], graded, notes, [], args[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
