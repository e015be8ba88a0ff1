"""A copy of the autograder zip with other grading limits, for ``otter grade`` (which passes no environment
variable to its containers) or a slower machine; the release's zip is left as it is.

    python -m tools.build.limits --cell-timeout 1200 --phase-timeout 1800 --wall-cap 2400 -o hw1-slow.zip

Writes ``files/hw1_trusted/limits.json`` into the copy: the route reads each limit from the environment first,
then from that file, then from ``policy.py``. The copy gets its own autograder id (a hash over its entries, the
limits among them), which every result it gives carries. The students' notebook still states policy.py's limits:
raise them, never lower them, after the release.
"""

import argparse
import json
import pathlib
import sys
import zipfile

from tools.build import release as build_release
from tools.trusted import settings

OPTIONS = {  # option: the setting it overrides
    "cell_timeout": settings.CELL_TIMEOUT,
    "phase_timeout": settings.PHASE_TIMEOUT,
    "wall_cap": settings.PHASE_WALL_CAP,
    "student_memory_mb": settings.STUDENT_MEMORY_MB,
    "student_disk_mb": settings.STUDENT_DISK_MB,
    "trusted_timeout": settings.TRUSTED_TIMEOUT,
    "trusted_memory_mb": settings.TRUSTED_MEMORY_MB,
}
ENTRY = f"files/hw1_trusted/{settings.LIMITS_FILE}"


def with_limits(source, target, limits):
    """Copies the zip ``source`` to ``target`` with ``limits`` ({setting name: value}) in its limits.json."""
    unknown = set(limits) - set(settings.LIMIT_NAMES)
    if unknown:
        raise ValueError(f"not a grading limit: {', '.join(sorted(unknown))}")
    with zipfile.ZipFile(source) as z:
        entries = {info.filename: z.read(info) for info in z.infolist() if not info.is_dir()}
    if build_release.STAMP not in entries:
        raise ValueError(f"{source} is not this assignment's autograder zip (no {build_release.STAMP})")
    entries[ENTRY] = json.dumps({k: str(v) for k, v in sorted(limits.items())}, indent=1).encode()
    build_release.write_zip(entries, target)
    return build_release.autograder_id(entries)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tools.build.limits", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--zip", type=pathlib.Path, default=build_release.ROOT / "autograder" / settings.ZIP_NAME)
    parser.add_argument("-o", "--out", type=pathlib.Path, required=True, help="the zip to write")
    for option, setting in OPTIONS.items():
        parser.add_argument(
            "--" + option.replace("_", "-"), type=int, help=f"{setting.description} (now {setting.default})"
        )
    args = parser.parse_args(argv)
    limits = {setting.name: getattr(args, option) for option, setting in OPTIONS.items() if getattr(args, option)}
    if not limits:
        parser.error("give at least one limit")
    if args.out.resolve() == args.zip.resolve():
        parser.error("write a copy: the release's zip stays as it is")
    new_id = with_limits(args.zip, args.out, limits)
    print(f"wrote {args.out} (autograder {new_id[:12]}) with {', '.join(f'{k}={v}' for k, v in limits.items())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
