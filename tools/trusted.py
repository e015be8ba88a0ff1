"""The one way to load ``hw1_trusted`` (the grader shipped in the zip), for the tools and the tests alike.

``load_trusted(folder)`` imports the package in ``folder/hw1_trusted`` without touching ``sys.path``: the
sources (``assignment/``) as ``hw1_trusted``, any other folder (a build's prepared copy, the tests' copy with
``points.json``) under a name of its own, so that two copies never mix their modules in one process.
"""

import hashlib
import importlib
import importlib.machinery
import importlib.util
import pathlib
import sys

from tools import ASSIGNMENT

PACKAGE = "hw1_trusted"


def package_name(folder):
    """hw1_trusted for the sources; hw1_trusted_<hash of the folder> for any other copy."""
    folder = pathlib.Path(folder).resolve()
    if folder == ASSIGNMENT.resolve():
        return PACKAGE
    return f"{PACKAGE}_{hashlib.sha256(str(folder).encode()).hexdigest()[:12]}"


def load_trusted(folder=ASSIGNMENT):
    """The hw1_trusted package of ``folder`` (the folder that holds hw1_trusted/), imported once per folder."""
    folder = pathlib.Path(folder).resolve()
    name = package_name(folder)
    location = folder / PACKAGE
    loaded = sys.modules.get(name)
    if loaded is not None:
        if list(loaded.__path__) != [str(location)]:
            raise ImportError(f"{name} is already loaded from {list(loaded.__path__)}, not {location}")
        return loaded
    if not location.is_dir():
        raise ImportError(f"no {PACKAGE} package in {folder}")
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(location)]
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    return package


def trusted_module(module, folder=ASSIGNMENT):
    """One module of the hw1_trusted package of ``folder``, e.g. trusted_module("checks")."""
    return importlib.import_module(f"{load_trusted(folder).__name__}.{module}")


settings = trusted_module("settings")  # every HW1_* variable, with its default (assignment/hw1_trusted/settings.py)


def load_probes():
    """The probes (assignment/hw1_probes.py, the student side's module) as ``hw1_probes``, the name the
    notebook's hidden cells import them by; imported once, from its file, without touching ``sys.path``."""
    loaded = sys.modules.get("hw1_probes")
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location("hw1_probes", ASSIGNMENT / "hw1_probes.py")
    probes = importlib.util.module_from_spec(spec)
    sys.modules["hw1_probes"] = probes
    spec.loader.exec_module(probes)
    return probes
