"""Grading speed and memory of the reference solution, through the real autograder.

    python tools/benchmark.py [--repeat 3]

Grades solutions/hw1.ipynb with the committed autograder zip (as ``otter run``
does) and prints medians over the repeats of:

* wall time on one CPU (``taskset -c 0`` and one BLAS/torch thread), as on
  Gradescope's half vCPU, and on all cores;
* each problem's share of the one-CPU time (its cells, data loading and
  training included, plus the hidden tests that run right after them);
* peak memory of all grading processes together (the Otter runner and the
  kernel), and the floor: a bare ``import torch, torchvision``.
"""

import argparse
import datetime
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from data_cache import data_environment  # noqa: E402
from grading import RELEASE_ZIP, SOLUTIONS  # noqa: E402

CHILD = """
import json, sys, otter.run
results = otter.run.main(sys.argv[1], autograder=sys.argv[2], output_dir=None, no_logo=True)
cells = []
for cell in results.notebook.cells:
    timing = cell.get("metadata", {}).get("execution", {})
    cells.append([cell.cell_type, cell.source[:200], timing.get("iopub.execute_input"), timing.get("shell.execute_reply")])
json.dump({"total": results.total, "possible": results.possible, "cells": cells}, open(sys.argv[3], "w"))
"""


def run_measured(command, env):
    """Runs ``command``; returns (wall seconds, peak summed RSS in MB of it and its children)."""
    start = time.perf_counter()
    process = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        rss = 0
        try:
            for p in [process] + process.children(recursive=True):
                rss += p.memory_info().rss
        except psutil.Error:
            pass
        peak = max(peak, rss)
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(process.stderr.read().decode()[-3000:])
    return wall, peak / 2**20


def problem_shares(cells):
    """Seconds per problem, from the executed notebook's cell timestamps."""
    shares, problem = {}, "setup"
    for cell_type, source, started, finished in cells:
        heading = re.search(r"^## Problem (\d)", source, flags=re.M) if cell_type == "markdown" else None
        if heading:
            problem = f"P{heading.group(1)}"
        if started and finished:
            seconds = (datetime.datetime.fromisoformat(finished.replace("Z", "+00:00"))
                       - datetime.datetime.fromisoformat(started.replace("Z", "+00:00"))).total_seconds()
            shares[problem] = shares.get(problem, 0.0) + seconds
    return shares


def grade_once(threads, pin):
    env = data_environment(threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "timings.json")
        command = [sys.executable, "-c", CHILD, str(SOLUTIONS), str(RELEASE_ZIP), out]
        if pin:
            command = ["taskset", "-c", "0"] + command
        wall, peak = run_measured(command, env)
        report = json.load(open(out))
    assert report["total"] == report["possible"], f"the solution lost points: {report['total']}/{report['possible']}"
    return wall, peak, problem_shares(report["cells"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    floors = [run_measured([sys.executable, "-c", "import torch, torchvision"], dict(os.environ))[1] for _ in range(args.repeat)]
    floor = statistics.median(floors)
    one_cpu = [grade_once(threads=1, pin=True) for _ in range(args.repeat)]
    all_cores = [grade_once(threads=os.cpu_count(), pin=False) for _ in range(args.repeat)]

    median = statistics.median
    print(f"runs per setting: {args.repeat} (medians below)")
    print(f"wall time, 1 CPU (taskset -c 0, 1 thread): {median(w for w, _, _ in one_cpu):6.1f} s")
    print(f"wall time, all {os.cpu_count()} cores:               {median(w for w, _, _ in all_cores):6.1f} s")
    ratio = median(w for w, _, _ in one_cpu) / median(w for w, _, _ in all_cores)
    print(f"ratio 1 CPU / all cores:                  {ratio:6.2f}")
    for problem in sorted(one_cpu[0][2]):
        print(f"  {problem:5s} share, 1 CPU:                {median(s[problem] for _, _, s in one_cpu):6.1f} s")
    peaks = [p for _, p, _ in one_cpu + all_cores]
    peak = median(peaks)
    runs = lambda values: ", ".join(f"{v:.0f}" for v in values)  # noqa: E731
    print(f"peak memory of grading (runner + kernel): {peak:6.0f} MB   (runs: {runs(peaks)})")
    print(f"floor: bare import torch, torchvision:    {floor:6.0f} MB   (runs: {runs(floors)})")
    print(f"grading memory above the floor:           {peak - floor:6.0f} MB")


if __name__ == "__main__":
    main()
