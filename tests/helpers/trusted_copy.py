"""The trusted package of the sources (assignment/hw1_trusted), imported in-process as the build lays it out.

The checks read their points from ``points.json``, which only the build writes; a copy of the package
with that file (from the master notebook, as the build makes it) is loaded here (``tools.trusted.load_trusted``,
under a name of its own), so that in-process tests run the current sources of the verdict, the hand-over and
the uploads, not a release's.
"""

import pathlib
import shutil
import tempfile

from tools import ROOT
from tools.build import points
from tools.trusted import load_trusted, trusted_module

_COPY = None


def trusted():
    """The hw1_trusted package (a fresh copy of the sources with points.json), loaded once per session."""
    global _COPY
    if _COPY is None:
        folder = pathlib.Path(tempfile.mkdtemp(prefix="hw1-trusted-copy-"))
        shutil.copytree(
            ROOT / "assignment" / "hw1_trusted", folder / "hw1_trusted", ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copytree(
            ROOT / "assignment" / "hw1_untrusted",
            folder / "hw1_untrusted",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        (folder / "hw1_trusted" / "points.json").write_text(points.points_json(ROOT / "assignment" / "hw1.ipynb"))
        _COPY = folder
    return load_trusted(_COPY)


def folder():
    """The folder that holds the copy (``folder()/hw1_trusted``), e.g. for a fresh ``python -I`` to import it."""
    trusted()
    return _COPY


def module(name):
    trusted()
    return trusted_module(name, _COPY)
