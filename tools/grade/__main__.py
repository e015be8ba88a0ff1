"""The command line of make grade, and the run it makes: python -m tools.grade SUBMISSIONS OUT [options].

What it does, and what it writes: tools/grade/__init__.py (python -m tools.grade --help).
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import os
import pathlib
import signal
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from types import FrameType
from typing import TextIO

from tools import errors
from tools.grade import DOC, gradebook, gradescope, pool, report
from tools.grade.gradebook import FAILED, NOT_GRADED, ROUTE_SETTINGS, Row
from tools.grade.submissions import METADATA, Submission, find_submissions
from tools.report import similarity
from tools.report.safe_text import terminal


def write_similarity(folder: pathlib.Path, out: pathlib.Path, stream: TextIO) -> pathlib.Path | None:
    """OUT/similarity.html beside the grades (tools/report/similarity.py); a failure there costs the grades nothing."""
    try:
        path, _ = similarity.similarity_report(folder, out)
        return path
    except Exception as error:  # the grades are written; the comparison is a separate, optional read
        stream.write(
            f"warning: no code-similarity report ({type(error).__name__}: {error}); "
            f"run make similarity SUBMISSIONS={folder} OUT={out} to try again\n"
        )
        return None


def grade_folder(
    folder: pathlib.Path,
    out_dir: str | pathlib.Path,
    autograder_zip: pathlib.Path = gradescope.RELEASE_ZIP,
    jobs: int | None = None,
    timeout: float = pool.DEFAULT_TIMEOUT,
    regrade: Iterable[str] = (),
    force: bool = False,
    extra_env: Mapping[str, str] | None = None,
    stream: TextIO = sys.stdout,
) -> tuple[list[Row], bool]:
    """make grade: grades what is new in ``folder``, writes OUT/<submission>/, final_grades.csv and report.html.

    ``jobs``: gradings at once (default: ``pool.choose_jobs``, from the CPUs and the memory).
    Returns (rows in key order, whether the folder was a Gradescope export)."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)  # every student's results: the sandbox users read whatever is open to others
    if os.stat(folder).st_mode & 0o005:
        stream.write(
            f"warning: {folder} is open to other users, and so to the students' notebooks while they are "
            f"graded (chmod 700 {folder})\n"
        )
    lock = open(out / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise errors.GradingSetupError(f"another grading is writing to {out}") from None
    try:
        submissions, ignored, export = find_submissions(folder, exclude=[out])
        if not submissions:
            inner = sorted(str(m.parent) for m in pathlib.Path(folder).glob(f"*/{METADATA}"))
            hint = f"; Gradescope's export is in {inner[0]}: grade that folder" if inner else ""
            raise errors.SubmissionsError(
                f"no submissions in {folder}: expected *.ipynb or *.zip files, or Gradescope's export "
                f"({METADATA} beside a folder per submission){hint}"
            )
        if ignored:
            stream.write(f"ignored (not an upload): {', '.join(map(terminal, ignored))}\n")
        ag_id = gradebook.autograder_id(autograder_zip)
        chosen = gradebook.select_regrades(submissions, regrade) if regrade else set()
        rows: dict[str, Row] = {}
        todo: list[Submission] = []
        for s in submissions:
            kept = (
                None
                if force or s.key in chosen
                else gradebook.stored_row(s, out / s.folder, ag_id, gradebook.upload_hash_or_none(s.path), timeout)
            )
            if kept is not None:
                rows[s.key] = kept
            else:
                todo.append(s)
        workers_wanted, why = (jobs, "JOBS given") if jobs else pool.choose_jobs()
        workers = min(workers_wanted, max(1, len(todo)))
        stream.write(
            f"{len(submissions)} submissions{' (Gradescope export)' if export else ''}: {len(todo)} to grade, "
            f"{len(rows)} kept from earlier runs; autograder {ag_id[:12]}\n"
            f"{workers} worker{'s' if workers != 1 else ''} ({why}{'; fewer submissions to grade' if workers < workers_wanted else ''}), "
            f"at most {pool.duration(timeout)} each\n"
        )
        progress = pool.Progress(len(submissions), workers, stream)
        progress.start()
        for s in submissions:
            if s.key in rows:
                progress.update(rows[s.key])
        interrupted = False

        def done(row: Row) -> None:
            rows[row.key] = row
            progress.update(row)

        started = time.monotonic()
        if todo:
            try:
                pool.run_pool(
                    todo, autograder_zip, ag_id, workers_wanted, timeout, out, extra_env, done, on_tick=progress.tick
                )
            except KeyboardInterrupt:
                interrupted = True
        throughput = pool.Throughput(
            sum(1 for r in rows.values() if r.graded_now), time.monotonic() - started, workers, why
        )
        for s in submissions:
            if s.key not in rows:
                rows[s.key] = Row(
                    s, NOT_GRADED, "the run was interrupted or stopped first; rerun the same command to grade it"
                )
        progress.finish()
        stream.write(f"{throughput}\n")
        ordered = [rows[s.key] for s in submissions]
        csv_path = gradebook.write_csv(ordered, out, export)
        similar = write_similarity(folder, out, stream)
        report_path = report.write_report(ordered, out, ag_id, throughput)
        counts = collections.Counter(r.status for r in ordered)
        stream.write(
            ", ".join(f"{n} {status}" for status, n in counts.items())
            + f"\nwrote {csv_path}, {report_path}{f' and {similar}' if similar else ''}\n"
        )
        if interrupted:
            raise KeyboardInterrupt
        return ordered, export
    finally:
        lock.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.grade", description=DOC, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("submissions", type=pathlib.Path, help="a folder of uploads, or Gradescope's export folder")
    parser.add_argument(
        "out", type=pathlib.Path, help="where final_grades.csv, report.html and a folder per submission go"
    )
    parser.add_argument(
        "--zip", type=pathlib.Path, default=gradescope.RELEASE_ZIP, help="the autograder zip (default: the release's)"
    )
    jobs, why = pool.choose_jobs()
    parser.add_argument("--jobs", type=int, default=None, help=f"gradings at once (default here: {jobs}: {why})")
    parser.add_argument(
        "--timeout", type=float, default=pool.DEFAULT_TIMEOUT, help="seconds for the whole grading of one upload"
    )
    parser.add_argument(
        "--regrade",
        action="append",
        default=[],
        metavar="NAME",
        help="regrade this submission (key, key without extension, submitter name, SID or email)",
    )
    parser.add_argument("--force", action="store_true", help="regrade every submission")
    args = parser.parse_args(argv)
    gradescope.require_root()
    pool.check_environment()
    if not args.zip.exists():
        raise errors.GradingSetupError(f"no autograder zip at {args.zip}")
    extra_env = {s.name: s.raw() for s in ROUTE_SETTINGS if s.raw() is not None}  # the route's limits, passed on

    def interrupt(
        signum: int, frame: FrameType | None
    ) -> None:  # a kill ends the batch as Ctrl-C does: the gradings under way are stopped
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    try:
        rows, _ = grade_folder(
            args.submissions, args.out, args.zip, args.jobs, args.timeout, args.regrade, args.force, extra_env
        )
    except KeyboardInterrupt:
        print("interrupted: the rows not graded say so; rerun the same command to go on", file=sys.stderr)
        return 130
    return 2 if any(r.status in (FAILED, NOT_GRADED) for r in rows) else 0


if __name__ == "__main__":
    errors.run(main)
