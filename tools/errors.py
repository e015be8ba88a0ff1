"""The tools' own exceptions. The library raises them; only the entry points (``run`` below, called by each
``python -m tools...``) turn them into a message on stderr and an exit code, so that code which calls a tool's
function can handle its failure.

    ToolError              a failure the person who ran the tool must act on; its message is their sentence
    ├── ReleaseError       the release cannot be built as it must be (the solution does not get full marks)
    ├── PointsError        the points or the policy in the master, the README or the notebook do not agree
    ├── GradingSetupError  this machine or its folders cannot grade (not root, no data, no free sandbox user)
    ├── SubmissionsError   a folder of submissions, or a choice among them, that cannot be graded as asked
    ├── MergeError         Gradescope's exports cannot be merged into one gradebook
    ├── PdfError           the written part's PDFs do not match the outline
    └── BenchmarkError     the benchmark lacks what it measures with (a cgroup, taskset)
"""

import sys
from collections.abc import Callable


class ToolError(Exception):
    """A failure that the person who ran the tool reads and acts on."""

    exit_code = 1


class ReleaseError(ToolError):
    pass


class PointsError(ToolError):
    pass


class GradingSetupError(ToolError):
    pass


class SubmissionsError(ToolError):
    pass


class MergeError(ToolError):
    pass


class PdfError(ToolError):
    pass


class BenchmarkError(ToolError):
    pass


def run(main: Callable[[], int | None]) -> None:
    """The edge of a tool: runs its main; a ToolError becomes its message on stderr and the tool's exit code."""
    try:
        code = main()
    except ToolError as error:
        print(error, file=sys.stderr)
        sys.exit(error.exit_code)
    sys.exit(code or 0)
