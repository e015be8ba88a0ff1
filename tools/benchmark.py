"""Grading speed and memory of the reference solution, through the real route.

    python tools/benchmark.py [--repeat 5]

Grades solutions/hw1.ipynb with the committed autograder zip exactly as Gradescope
runs it (tools/gradescope.py: the zip's run_autograder as root on one CPU, the student
phase as an unprivileged user, then the trusted phase) and prints medians over the
repeats of:

* wall time of the whole grading on one CPU (``taskset -c 0``; the route caps threads
  to the CPUs it may use), and of its phases: inputs, the student's notebook, verdict;
* peak memory of each phase (RSS summed over its processes), and the floor: a bare
  ``import torch, torchvision``. The trusted phase runs after the student phase has
  ended, so the two peaks do not add up.

Then it grades once more at **half a CPU**, Gradescope's default, inside a cgroup with a
CPU quota of 0.5 (``--cpu-fraction``; cgroup v1 or v2, as root), where the route caps
threads from the cgroup's quota, and prints that time beside the bound the grading
must end within (8 minutes).

Then it reports the sandbox's cost: the start and end of bubblewrap's namespaces and a cgroup around a bare
``/bin/true``, and ``--without-sandbox`` gradings (default 1) with neither (``HW1_SANDBOX=none``,
``HW1_CGROUP=none``) beside the sandboxed ones.

Needs Linux and root. Targets: whole grading at most 90 s on one CPU; memory above
the floor at most 300 MB.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psutil

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import gradescope  # noqa: E402
from grading import RELEASE_ZIP, SOLUTIONS  # noqa: E402

TARGET_SECONDS, TARGET_MB = 90, 300
BOUND_AT_FRACTION = 8 * 60  # the whole grading at half a CPU ends within this (the route's time limits)


class PeakSampler(threading.Thread):
    """Samples the summed RSS of the processes of each phase: the sandbox user's, and root's trusted steps."""

    def __init__(self, user):
        super().__init__(daemon=True)
        self.user, self.done = user, threading.Event()
        self.peaks = {"student": 0, "trusted": 0}

    def run(self):
        while not self.done.is_set():
            sums = {"student": 0, "trusted": 0}
            for p in psutil.process_iter(["username", "cmdline", "memory_info"]):
                try:
                    cmd = " ".join(p.info["cmdline"] or [])
                    if p.info["username"] == self.user:
                        sums["student"] += p.info["memory_info"].rss
                    elif "hw1_trusted/__main__.py" in cmd and (" prepare " in cmd or " verdict " in cmd):
                        sums["trusted"] += p.info["memory_info"].rss
                except (psutil.Error, TypeError):
                    pass
            for k in sums:
                self.peaks[k] = max(self.peaks[k], sums[k])
            time.sleep(0.05)


NO_SANDBOX = {"HW1_SANDBOX": "none", "HW1_CGROUP": "none"}  # the route as it was: no namespaces, no cgroup


def grade_once(extra_env=None):
    user = "hw1bench"
    sampler = PeakSampler(gradescope.sandbox_user(user))
    sampler.start()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hw1-bench-") as out:
        result = gradescope.grade(SOLUTIONS, out, RELEASE_ZIP, user=user, cpus="0", extra_env=extra_env)
    wall = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    assert result.total == result.possible, f"the solution lost points: {result.failures()}"
    timings = result.raw["extra_data"]["timings"]
    return wall, timings, {k: v / 2**20 for k, v in sampler.peaks.items()}


class CpuLimitedCgroup:
    """A cgroup with a CPU quota of ``fraction`` CPUs (v2 cpu.max, else v1 cfs quota), removed afterwards."""

    def __init__(self, fraction, name="hw1-bench"):
        period = 100_000
        quota = int(fraction * period)
        v2 = pathlib.Path("/sys/fs/cgroup/cgroup.controllers")
        if v2.exists():
            self.path = pathlib.Path("/sys/fs/cgroup") / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.max").write_text(f"{quota} {period}")
        else:
            self.path = pathlib.Path("/sys/fs/cgroup/cpu") / name
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(period))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))

    def join(self):
        """For preexec_fn: the child joins the cgroup before it runs anything."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self):
        try:
            self.path.rmdir()
        except OSError:
            pass


def grade_at_fraction(fraction):
    """Wall time of one grading of the solution, in a cgroup limited to ``fraction`` of a CPU."""
    cgroup = CpuLimitedCgroup(fraction)
    try:
        with tempfile.TemporaryDirectory(prefix="hw1-bench-") as out:
            started = time.perf_counter()
            subprocess.run([sys.executable, str(pathlib.Path(__file__).with_name("gradescope.py")), str(SOLUTIONS), out],
                           check=True, preexec_fn=cgroup.join, env={**os.environ, "HW1_USER_PREFIX": os.environ.get("HW1_USER_PREFIX", "")},
                           stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - started
            result = gradescope.Result(json.loads((pathlib.Path(out) / "results.json").read_text()))
    finally:
        cgroup.remove()
    return wall, result


def sandbox_startup(repeat=20):
    """Median seconds for the route's sandbox to start and end a bare ``/bin/true`` (bubblewrap's namespaces and
    mounts, a cgroup with its limits), against the same without them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hw1_sandbox", gradescope.ROOT / "assignment" / "hw1_trusted" / "sandbox.py")
    sandbox = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sandbox)
    tools, why = sandbox.probe_namespaces(65534, 65534)
    if tools is None:
        return None, why
    readonly = sandbox.readonly_paths(sys.prefix, sys.base_prefix, str(gradescope.DATA_ROOT))
    times = {"sandboxed": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="hw1-bench-") as root:
        for _ in range(repeat):
            group, _ = sandbox.Cgroup.create(f"hw1-bench-{os.getpid()}", cpus=1, memory=2**31, pids=512)
            started = time.perf_counter()
            subprocess.run(sandbox.namespace_argv(tools, root, readonly, 65534, 65534, ["/bin/true"], 2**31), check=True,
                           preexec_fn=group.join if group else None)
            if group:
                group.remove()
            times["sandboxed"].append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(["/bin/true"], check=True, user=65534, group=65534)
            times["bare"].append(time.perf_counter() - started)
    return {k: statistics.median(v) for k, v in times.items()}, ""


def floor_mb():
    process = psutil.Popen([str(gradescope.PYTHON), "-c", "import torch, torchvision, time; time.sleep(1)"])
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    return peak / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cpu-fraction", type=float, default=0.5, help="one more grading at this CPU quota (0: skip)")
    parser.add_argument("--without-sandbox", type=int, default=1,
                        help="gradings without the sandbox (no namespaces, no cgroup), to show its cost (0: skip)")
    args = parser.parse_args()
    gradescope.require_root()

    floors = [floor_mb() for _ in range(args.repeat)]
    runs = []
    for k in range(args.repeat):  # each run as it ends: the machine is noisy, the medians come last
        runs.append(grade_once())
        wall, timings, peaks = runs[-1]
        print(f"run {k + 1}: {wall:.1f} s {timings}, peaks {', '.join(f'{p}: {v:.0f} MB' for p, v in peaks.items())}", flush=True)
    median = statistics.median
    show = lambda values: ", ".join(f"{v:.0f}" for v in values)  # noqa: E731
    walls = [w for w, _, _ in runs]
    print(f"runs: {args.repeat} (medians; every run in brackets)")
    print(f"whole grading, 1 CPU:          {median(walls):6.1f} s   [{show(walls)}]   target <= {TARGET_SECONDS} s")
    for phase in ("prepare", "student", "verdict"):
        values = [t[phase] for _, t, _ in runs]
        print(f"  {phase:8s} phase:              {median(values):6.1f} s   [{show(values)}]")
    trusted = [t["prepare"] + t["verdict"] for _, t, _ in runs]
    print(f"  trusted overhead (inputs + verdict): {median(trusted):.1f} s, {median(trusted) / median(walls):.0%} of the grading")
    floor = median(floors)
    print(f"floor, bare import torch, torchvision: {floor:6.0f} MB   [{show(floors)}]")
    for phase in ("student", "trusted"):
        peaks = [p[phase] for _, _, p in runs]
        print(f"peak, {phase:7s} phase:          {median(peaks):6.0f} MB   [{show(peaks)}]   above the floor: {median(peaks) - floor:4.0f} MB"
              + (f"   target <= {TARGET_MB} MB" if phase == "student" else ""))
    startup, why = sandbox_startup()
    if startup is None:
        print(f"sandbox: none here ({why})")
    else:
        print(f"sandbox start and end (bubblewrap + cgroup) around /bin/true: {1000 * startup['sandboxed']:.0f} ms, "
              f"against {1000 * startup['bare']:.0f} ms without (medians of 20)")
    if args.without_sandbox:
        bare = [grade_once(NO_SANDBOX) for _ in range(args.without_sandbox)]
        bare_walls, bare_student = [w for w, _, _ in bare], [t["student"] for _, t, _ in bare]
        student = [t["student"] for _, t, _ in runs]
        print(f"without the sandbox (no namespaces, no cgroup), {len(bare)} run(s): whole grading {median(bare_walls):.1f} s "
              f"[{show(bare_walls)}], student phase {median(bare_student):.1f} s; with it: {median(walls):.1f} s and "
              f"{median(student):.1f} s; the sandbox's cost per grading: {median(walls) - median(bare_walls):+.1f} s "
              f"(student phase {median(student) - median(bare_student):+.1f} s)")
    if args.cpu_fraction:
        wall, result = grade_at_fraction(args.cpu_fraction)
        timings = result.raw["extra_data"]["timings"]
        print(f"whole grading at {args.cpu_fraction:g} CPU (cgroup quota): {wall:.1f} s {timings}, "
              f"{result.total:g}/{result.possible:g} points   bound <= {BOUND_AT_FRACTION} s")


if __name__ == "__main__":
    main()
