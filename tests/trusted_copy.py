"""The trusted package of the sources (assignment/hw1_trusted), imported in-process as the build lays it out.

The checks read their points from ``points.json``, which only the build writes; a copy of the package
with that file (from the master notebook, as the build makes it) is imported here, so that in-process
tests run the current sources of the verdict, the hand-over and the uploads, not a release's.
"""

import importlib
import pathlib
import shutil
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import points  # noqa: E402

_COPY = None


def trusted():
    """The hw1_trusted package (a fresh copy of the sources with points.json), imported once per session."""
    global _COPY
    if _COPY is None:
        for name in [n for n in sys.modules if n == "hw1_trusted" or n.startswith("hw1_trusted.")]:
            del sys.modules[name]
        folder = pathlib.Path(tempfile.mkdtemp(prefix="hw1-trusted-copy-"))
        shutil.copytree(ROOT / "assignment" / "hw1_trusted", folder / "hw1_trusted",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "hw1_trusted" / "points.json").write_text(points.points_json(ROOT / "assignment" / "hw1.ipynb"))
        sys.path.insert(0, str(folder))
        _COPY = folder
        # hw1_trusted is a namespace package: its path follows sys.path, so a later sys.path.insert of
        # assignment/ (the build, other tests) would load the rest of its modules from the sources, without
        # points.json. Every module of the copy is imported now, once, and stays the one in sys.modules.
        for path in sorted((folder / "hw1_trusted").glob("*.py")):
            if path.stem != "__main__":
                importlib.import_module(f"hw1_trusted.{path.stem}")
    return importlib.import_module("hw1_trusted")


def module(name):
    trusted()
    return importlib.import_module(f"hw1_trusted.{name}")
