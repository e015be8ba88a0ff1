"""Entry point of the trusted grader (``python -I hw1_trusted/__main__.py STEP ...``).

    route [AUTOGRADER_DIR]                       grade one submission (run_autograder calls this)
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


def main(argv):
    step, args = argv[0], argv[1:]
    if step == "route":
        route.main(args)
    elif step == "prepare":
        threads()
        from hw1_trusted import inputs

        work = pathlib.Path(args[0])
        (work / "inputs").mkdir(exist_ok=True)
        datasets = inputs.Datasets()
        for question in checks.CASES:
            inputs.save(work / "inputs", question, inputs.generate(question, datasets))
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
