"""The cost of trust: the reference solution graded through the route and under plain ``otter run``, alternately.

    python -m tools.measure.benchmark [--pairs 3] [--cpu-fraction 0.5] [--without-sandbox 1] [--sandbox-startup]

Each pair grades ``solutions/hw1.ipynb`` twice on one CPU (``taskset -c 0``), in alternating order (route first in
odd pairs, plain first in even ones, so that a drift of the machine's load falls on both):

* **the route**: the committed autograder zip exactly as Gradescope runs it (tools/grade/gradescope.py: the zip's
  ``run_autograder`` as root, the student phase as an unprivileged user in its sandbox, the trusted steps as root);
* **plain otter run**: ``otter run -a <the same zip> solutions/hw1.ipynb``. The zip is ``otter assign``'s own build
  of the master notebook (tools/build/release.py runs the real ``otter assign``, then adds the trusted files);
  ``otter run`` ignores the zip's ``run_autograder`` and grades with Otter's own runner: it starts a kernel, runs
  every cell of the notebook and every test, public and hidden, in that kernel, with the same thread caps
  (one thread per CPU), the same seed and the same datasets (``HW1_DATA_DIR``). What it does not do is what the
  route adds for trust: the inputs from the secret seed, the sandbox, the probes' work on those inputs (outside the
  route a probe stops at once: there is nowhere to hand answers to, so plain otter run scores the hidden tests 0),
  and the separate verdict. So the ratio charges the probes' own work to the route: the stricter comparison.
  Two savings are the route's own and count as such: its student phase kills the kernel after the last cell
  where Otter shuts it down gracefully (2.5 s with torch loaded), and the sandbox's new home gets the image's
  matplotlib font list (plain otter run finds one in the instructor's home; a new home builds it, ~1 s).

It prints every pair as it ends, then medians: the route's phases (the inputs, kernel start and imports, the
student's cells, the checks with their probes, the verdict; from ``results/timings.json``, which the route writes:
its own wall-clock marks, and the student phase's reported split of its time), plain otter run's time, the ratio
of the medians and each pair's ratio, and the peak memory of each phase above the import floor (a bare
``import torch, torchvision``; summed RSS of the phase's processes, sampled every 50 ms), including the trusted
process that waits beside the student phase. Each side also runs in a cgroup of its own that counts the CPU
seconds of its whole process tree: on a loaded machine wall times swing by tens of seconds, CPU seconds hardly.

Optional, after the pairs: one grading at a fraction of a CPU in a cgroup (``--cpu-fraction``, Gradescope's default
is half a CPU; 0 skips), gradings without the sandbox (``--without-sandbox N``), and the start and end of the
sandbox around ``/bin/true`` (``--sandbox-startup``).

Needs Linux and root. Goal (issue 17): the route at most 1.03 times plain otter run.
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psutil

from tools import errors
from tools.grade import gradescope
from tools.grade.gradescope import RELEASE_ZIP, SOLUTIONS
from tools.trusted import trusted_module

GOAL_RATIO = 1.03
BOUND_AT_FRACTION = 8 * 60  # the whole grading at half a CPU ends within this (the route's time limits)
ROUTE_PHASES = ("inputs", "kernel start and imports", "student's cells", "checks and probes", "verdict")
WAITING = "trusted process, waiting"  # beside the student phase (whose peak is the phases' above)
NO_SANDBOX = {"HW1_SANDBOX": "none", "HW1_CGROUP": "none"}  # the route without namespaces and cgroup
CPU = "0"


class PeakSampler(threading.Thread):
    """Every 50 ms: (time, RSS of the sandbox user's processes, of root's trusted steps, of a plain run's tree)."""

    def __init__(self, user=None, root_pid=None, trusted_marker=None):
        super().__init__(daemon=True)
        self.user, self.root_pid, self.done = user, root_pid, threading.Event()
        self.trusted_marker = trusted_marker  # this grading's layout: other gradings' trusted steps do not count
        self.samples = []

    def run(self):
        while not self.done.is_set():
            student = trusted = plain = 0
            for p in psutil.process_iter(["username", "cmdline", "memory_info"]):
                try:
                    cmd = " ".join(p.info["cmdline"] or [])
                    if self.user and p.info["username"] == self.user:
                        student += p.info["memory_info"].rss
                    elif (
                        self.trusted_marker
                        and f"{self.trusted_marker}/" in cmd
                        and "hw1_trusted/__main__.py" in cmd
                        and " route " not in cmd
                    ):
                        trusted += p.info["memory_info"].rss
                except (psutil.Error, TypeError):
                    pass
            if self.root_pid:
                try:
                    tree = psutil.Process(self.root_pid)
                    plain = sum(p.memory_info().rss for p in [tree, *tree.children(recursive=True)])
                except psutil.Error:
                    pass
            self.samples.append((time.time(), student, trusted, plain))
            time.sleep(0.05)

    def stop(self):
        self.done.set()
        self.join()

    def peak(self, column, start=None, end=None):
        values = [s[column] for s in self.samples if (start is None or s[0] >= start) and (end is None or s[0] <= end)]
        return max(values, default=0) / 2**20


def route_phases(timings):
    """{phase: seconds} and {phase: (start, end)} from results/timings.json (wall clock)."""
    route, reported = timings["route"], timings.get("student_phase_reported", {})
    spans = {
        "inputs": (route["inputs_start"], route["inputs_end"]),
        "verdict": (route["verdict_start"], route["verdict_end"]),
    }
    seconds = {
        "inputs": route["inputs_end"] - route["inputs_start"],
        "verdict": route["verdict_end"] - route["verdict_start"],
    }
    split = reported.get("seconds", {})
    if "first_cell" in reported and "student" in split:
        # the phase's start-up (its interpreter, Otter, the kernel) and Otter's set-up cell; the notebook's own
        # imports run in its first cells and count as the student's, as they do under plain otter run
        seconds["kernel start and imports"] = (
            reported["first_cell"] - route["student_start"] + split.get("otter_setup", 0)
        )
        seconds["student's cells"] = split["student"]
        seconds["checks and probes"] = split.get("checks", 0)
        seconds["phase end"] = route["student_end"] - reported.get("last_cell_end", route["student_end"])
        spans["kernel start and imports"] = (route["student_start"], reported["first_cell"])
        spans["student's cells"] = spans["checks and probes"] = (
            reported["first_cell"],
            reported.get("last_cell_end", route["student_end"]),
        )
    else:  # the phase reported nothing (a dead kernel): its whole time
        seconds["student's cells"] = route["student_end"] - route["student_start"]
        spans["student's cells"] = (route["student_start"], route["student_end"])
    seconds["between phases"] = (route["student_start"] - route["inputs_end"]) + (
        route["verdict_start"] - route["student_end"]
    )
    return seconds, spans


def grade_route(autograder_zip, extra_env=None):
    """(wall seconds, {phase: seconds}, {phase: peak MB}, CPU seconds) of one grading of the solution through the route:
    ``python -m tools.grade.gradescope`` (on CPU 0, as Gradescope runs the zip), in a cgroup that counts its CPU time."""
    with tempfile.TemporaryDirectory(prefix="hw1-bench-") as out, Accounted("route") as account:
        sampler = PeakSampler(user=gradescope.sandbox_user("hw1student"), trusted_marker=out)
        sampler.start()
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tools.grade.gradescope", str(SOLUTIONS), out, "--zip", str(autograder_zip)],
            check=True,
            cwd=gradescope.ROOT,
            stdout=subprocess.DEVNULL,
            preexec_fn=account.join,
            env={**os.environ, **(extra_env or {})},
        )
        wall = time.perf_counter() - started
        result = gradescope.Result(json.loads((pathlib.Path(out) / "results.json").read_text()))
        marks = pathlib.Path(out) / "autograder" / "results" / "timings.json"
        timings = json.loads(marks.read_text()) if marks.exists() else None
    sampler.stop()
    cpu = account.cpu_seconds
    assert result.total == result.possible, f"the solution lost points: {result.failures()}"
    if timings is None:  # a zip from before the route wrote its marks: its three totals, no split, no memory
        old = result.raw["extra_data"]["timings"]
        return wall, {"inputs": old["prepare"], "student's cells": old["student"], "verdict": old["verdict"]}, {}, cpu
    seconds, spans = route_phases(timings)
    peaks = {}
    for phase, (start, end) in spans.items():
        peaks[phase] = sampler.peak(2 if phase in ("inputs", "verdict") else 1, start, end)
    # the trusted process waits through the student phase, holding torch and the datasets: its memory adds up
    peaks[WAITING] = sampler.peak(2, timings["route"]["student_start"], timings["route"]["student_end"])
    return wall, seconds, peaks, cpu


def plain_env():
    """The environment the route gives the student's kernel, minus the route's own variables."""
    threads = max(1, len(CPU.split(",")))
    return {
        "PATH": f"{pathlib.Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HW1_DATA_DIR": str(gradescope.DATA_ROOT),
        **trusted_module("route").thread_caps(threads),  # the route's own caps, as its student phase gets them
    }


class Accounted:
    """A cgroup (the route's own helper, no limits) that counts the CPU seconds of one side's whole process tree,
    the route's own nested cgroups included. Other work on the machine does not count, so this holds under load,
    where wall time does not."""

    def __init__(self, side):
        self.name, self.cpu_seconds = f"hw1-bench-{os.getpid()}-{side}", None

    def __enter__(self):
        self.group, why = trusted_module("sandbox").Cgroup.create(self.name)
        if self.group is None:
            raise errors.BenchmarkError(f"the benchmark needs a cgroup to count CPU time: {why}")
        return self

    def join(self):
        self.group.join()

    def __exit__(self, *_):
        self.cpu_seconds = self.group.stats()["cpu_seconds"]
        self.group.remove()


def grade_plain(autograder_zip):
    """(wall seconds, peak MB, CPU seconds) of ``otter run -a ZIP solutions/hw1.ipynb`` on the same CPU."""
    otter = pathlib.Path(sys.executable).with_name("otter")
    with tempfile.TemporaryDirectory(prefix="hw1-bench-plain-") as out, Accounted("plain") as account:
        started = time.perf_counter()
        process = psutil.Popen(
            ["taskset", "-c", CPU, str(otter), "run", "-a", str(autograder_zip), "-o", out, str(SOLUTIONS)],
            env=plain_env(),
            cwd=out,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=account.join,
        )
        sampler = PeakSampler(root_pid=process.pid)
        sampler.start()
        log = process.communicate()[0].decode(errors="replace")
        wall = time.perf_counter() - started
        sampler.stop()
        if process.returncode != 0 or not (pathlib.Path(out) / "results.json").exists():
            raise errors.BenchmarkError(f"plain otter run failed (exit {process.returncode}):\n{log[-3000:]}")
        results = json.loads((pathlib.Path(out) / "results.json").read_text())
    public = next((t for t in results["tests"] if t.get("name") == "Public Tests"), {})
    assert "failed" not in public.get("output", "failed").lower(), "plain otter run: the solution failed a public test"
    return wall, sampler.peak(3), account.cpu_seconds


def grade_at_fraction(fraction):
    """Wall time of one grading of the solution, in a cgroup limited to ``fraction`` of a CPU (the route's own
    cgroup helper, which limits its student phase)."""
    group, why = trusted_module("sandbox").Cgroup.create(f"hw1-bench-{os.getpid()}", cpus=fraction)
    if group is None:
        raise errors.BenchmarkError(f"no cgroup for --cpu-fraction: {why}")
    try:
        with tempfile.TemporaryDirectory(prefix="hw1-bench-") as out:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "tools.grade.gradescope", str(SOLUTIONS), out],
                check=True,
                preexec_fn=group.join,
                cwd=gradescope.ROOT,
                stdout=subprocess.DEVNULL,
                env=dict(os.environ),
            )
            wall = time.perf_counter() - started
            result = gradescope.Result(json.loads((pathlib.Path(out) / "results.json").read_text()))
    finally:
        group.remove()
    return wall, result


def sandbox_startup(repeat=20):
    """Median seconds for the route's sandbox to start and end a bare ``/bin/true`` (bubblewrap's namespaces and
    mounts, a cgroup with its limits), against the same without them."""
    sandbox = trusted_module("sandbox")
    tools, why = sandbox.probe_namespaces(65534, 65534)
    if tools is None:
        return None, why
    readonly = sandbox.readonly_paths(sys.prefix, sys.base_prefix, str(gradescope.DATA_ROOT))
    times = {"sandboxed": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="hw1-bench-") as root:
        for _ in range(repeat):
            group, _ = sandbox.Cgroup.create(f"hw1-bench-{os.getpid()}", cpus=1, memory=2**31, pids=512)
            started = time.perf_counter()
            subprocess.run(
                sandbox.namespace_argv(tools, root, readonly, 65534, 65534, ["/bin/true"], 2**31),
                check=True,
                preexec_fn=group.join if group else None,
            )
            if group:
                group.remove()
            times["sandboxed"].append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(["/bin/true"], check=True, user=65534, group=65534)
            times["bare"].append(time.perf_counter() - started)
    return {k: statistics.median(v) for k, v in times.items()}, ""


def floor_mb():
    process = psutil.Popen(
        ["taskset", "-c", CPU, sys.executable, "-c", "import torch, torchvision, time; time.sleep(1)"]
    )
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    return peak / 2**20


def show(values, digits=1):
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pairs", type=int, default=3, help="route and plain otter run gradings, alternately (at least 3)"
    )
    parser.add_argument(
        "--cpu-fraction", type=float, default=0, help="then one route grading at this CPU quota (0: skip)"
    )
    parser.add_argument(
        "--without-sandbox", type=int, default=0, help="then N route gradings without the sandbox (0: skip)"
    )
    parser.add_argument(
        "--sandbox-startup", action="store_true", help="then the sandbox's start and end around /bin/true"
    )
    parser.add_argument(
        "--zip",
        type=pathlib.Path,
        default=RELEASE_ZIP,
        help="the autograder zip, for both sides (default: the committed release's)",
    )
    args = parser.parse_args()
    if args.pairs < 3:
        parser.error("--pairs: at least 3, so that one noisy pair cannot make the median")
    gradescope.require_root()
    if shutil.which("taskset") is None:
        raise errors.BenchmarkError("the benchmark needs taskset (util-linux) to run both sides on one CPU")
    gradescope.place_data()
    median = statistics.median

    load = os.getloadavg()
    print(
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (on {os.cpu_count()} CPUs); both sides on CPU {CPU}",
        flush=True,
    )
    floor = median([floor_mb() for _ in range(3)])
    routes, plains = [], []
    for k in range(args.pairs):
        order = ("route", "plain") if k % 2 == 0 else ("plain", "route")
        for side in order:
            if side == "route":
                routes.append(grade_route(args.zip))
            else:
                plains.append(grade_plain(args.zip))
        (wall, seconds, _, cpu), (plain_wall, _, plain_cpu) = routes[-1], plains[-1]
        print(
            f"pair {k + 1} ({' then '.join(order)}): route {wall:.1f} s ({cpu:.1f} CPU s), plain otter run {plain_wall:.1f} s "
            f"({plain_cpu:.1f} CPU s), ratio {wall / plain_wall:.3f} (CPU {cpu / plain_cpu:.3f}); route phases: "
            + ", ".join(
                f"{p} {seconds[p]:.1f}" for p in (*ROUTE_PHASES, "phase end", "between phases") if p in seconds
            ),
            flush=True,
        )

    walls, plain_walls = [r[0] for r in routes], [p[0] for p in plains]
    ratios = [w / p for w, p in zip(walls, plain_walls)]
    print(f"\npairs: {args.pairs} on one CPU (medians; each pair in brackets)")
    print(f"route, whole grading:      {median(walls):6.1f} s   {show(walls)}")
    for phase in (*ROUTE_PHASES, "phase end", "between phases"):
        if not any(phase in r[1] for r in routes):  # a zip from before the route split its time
            continue
        values = [r[1].get(phase, 0.0) for r in routes]
        print(f"  {phase:25s} {median(values):6.1f} s   {show(values)}")
    print(f"plain otter run:           {median(plain_walls):6.1f} s   {show(plain_walls)}")
    ratio = median(walls) / median(plain_walls)
    print(f"ratio of the medians:      {ratio:6.3f}     per pair {show(ratios, 3)}   goal <= {GOAL_RATIO}")
    cpus, plain_cpus = [r[3] for r in routes], [p[2] for p in plains]
    print(
        f"CPU seconds (each side's whole process tree; robust to other load): route {median(cpus):.1f} {show(cpus)}, "
        f"plain {median(plain_cpus):.1f} {show(plain_cpus)}, ratio of the medians {median(cpus) / median(plain_cpus):.3f}, "
        f"per pair {show([c / p for c, p in zip(cpus, plain_cpus)], 3)}"
    )
    print(f"memory floor, bare import torch, torchvision: {floor:.0f} MB; peaks above it (median MB; each pair):")
    for phase in (*ROUTE_PHASES, WAITING):
        if not all(phase in r[2] for r in routes):
            continue
        values = [r[2].get(phase, 0.0) - floor for r in routes]
        print(f"  route, {phase:25s} {median(values):+6.0f} MB   {show(values, 0)}")
    values = [p[1] - floor for p in plains]
    print(f"  plain otter run (its whole tree) {median(values):+6.0f} MB   {show(values, 0)}")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    if args.without_sandbox:
        bare = [grade_route(args.zip, NO_SANDBOX) for _ in range(args.without_sandbox)]
        bare_walls = [b[0] for b in bare]
        print(
            f"without the sandbox (no namespaces, no cgroup), {len(bare)} grading(s): {median(bare_walls):.1f} s "
            f"{show(bare_walls)}; with it {median(walls):.1f} s: the sandbox's cost {median(walls) - median(bare_walls):+.1f} s"
        )
    if args.sandbox_startup:
        startup, why = sandbox_startup()
        if startup is None:
            print(f"sandbox: none here ({why})")
        else:
            print(
                f"sandbox start and end (bubblewrap + cgroup) around /bin/true: {1000 * startup['sandboxed']:.0f} ms, "
                f"against {1000 * startup['bare']:.0f} ms without (medians of 20)"
            )
    if args.cpu_fraction:
        wall, result = grade_at_fraction(args.cpu_fraction)
        print(
            f"whole grading at {args.cpu_fraction:g} CPU (cgroup quota): {wall:.1f} s, {result.total:g}/{result.possible:g} "
            f"points   bound <= {BOUND_AT_FRACTION} s"
        )


if __name__ == "__main__":
    errors.run(main)
