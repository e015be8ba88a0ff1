"""Scans a folder meant for students for solutions and hidden tests.

    python -m tools.build.leak_scan student/

Exits 1 and lists what it found, if anything: solution markers, lines of the
master notebook's solutions (code and written answers), hidden test names, or
the grader's own files (probes, checks, seed).
"""

import json
import pathlib
import sys

import nbformat

from tools import errors
from tools.build import master_notebook
from tools.build import release as build_release

MARKERS = (
    "# SOLUTION",
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN PROMPT",
    "hidden=True",
    "hw1_trusted",
    "hw1_probes",
    "secret_seed",
)


def readable_text(path):
    """A file's text; for a notebook, its cells' text (in the JSON, quotes and backslashes are escaped)."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        embedded = build_release.embedded_public_tests(nb)  # compressed in the setup cell: scanned as written out
        return "\n".join([cell.source for cell in nb.cells] + list(embedded.values())) + "\n" + json.dumps(nb.metadata)
    return path.read_text(errors="replace")


def find_leaks(folder):
    folder = pathlib.Path(folder)
    solution_lines = master_notebook.solution_lines()
    hidden_tests = master_notebook.test_function_names(hidden=True)
    leaks = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if path.name in ("hw1_probes.py", "secret_seed") or "hw1_trusted" in path.parts:
            leaks.append(f"{name}: the grader's own files")
            continue
        text = readable_text(path)
        leaks += [f"{name}: marker {m!r}" for m in MARKERS if m in text]
        leaks += [f"{name}: solution line {line!r}" for line in solution_lines if line in text]
        leaks += [f"{name}: hidden test {t}" for t in hidden_tests if t in text]
    return leaks


def main():
    leaks = find_leaks(sys.argv[1] if len(sys.argv) > 1 else "student")
    print("\n".join(leaks) or "no leaks found")
    return 1 if leaks else 0


if __name__ == "__main__":
    errors.run(main)
