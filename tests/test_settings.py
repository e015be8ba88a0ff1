"""One settings module: every HW1_* variable is declared in assignment/hw1_trusted/settings.py, read through it,
and listed in the README's generated table."""

import os
import re

import pytest

from tools import ROOT, errors
from tools.build import release as build_release
from tools.trusted import settings

NAME = re.compile(r"\bHW1_[A-Z][A-Z_]*[A-Z]\b")
# an environment read by name: os.environ[...], os.environ.get(...) or os.getenv(...) of a quoted HW1_ name
READ = re.compile(r"""(?:environ(?:\.get)?[(\[]|getenv\()\s*["'](HW1_[A-Z_]+)["']""")
SOURCES = [
    *ROOT.glob("tools/**/*.py"),
    *ROOT.glob("tests/*.py"),
    *ROOT.glob("assignment/**/*.py"),
    ROOT / "assignment" / "run_autograder",
    ROOT / "assignment" / "setup.sh",
    ROOT / "Makefile",
    ROOT / ".ci" / "run",
]


def test_every_variable_used_is_declared():
    declared = {s.name for s in settings.ALL}
    used = {
        name: path.relative_to(ROOT) for path in SOURCES if path.exists() for name in NAME.findall(path.read_text())
    }
    assert not set(used) - declared, {n: str(p) for n, p in used.items() if n not in declared}
    assert len(declared) == len(settings.ALL), "a variable is declared twice"


def test_only_the_student_side_reads_a_variable_by_name():
    """The grader, the tools and the tests read through settings; the notebook's side (the probes, the cheats'
    notebooks) cannot import the grader, and reads only what the route sets for it (scope notebook)."""
    notebook_side = {s.name for s in settings.ALL if s.scope == "notebook"}
    readers = {
        (str(path.relative_to(ROOT)), name)
        for path in SOURCES
        if path.suffix == ".py"
        for name in READ.findall(path.read_text())
        if name not in notebook_side
    }
    assert not readers, sorted(readers)


def test_each_setting_has_its_default_scope_and_description():
    for s in settings.ALL:
        assert s.scope in settings.SCOPES and s.description.strip(), s
        if s.default is not None:
            s.parse(s.default)  # the default parses as its type
    assert settings.CELL_TIMEOUT.value() == int(settings.CELL_TIMEOUT.raw() or settings.policy.CELL_TIMEOUT)


def test_a_setting_reads_the_environment_when_it_is_asked(monkeypatch):
    monkeypatch.setenv("HW1_PHASE_TIMEOUT", "17")
    monkeypatch.setenv("HW1_SANDBOX", "none")
    monkeypatch.delenv("HW1_CGROUP", raising=False)
    assert settings.PHASE_TIMEOUT.value() == 17 and settings.SANDBOX.value() is True and settings.CGROUP.value() is None


def test_readme_settings_table_is_current():
    readme = (ROOT / "README.md").read_text()
    testing = build_release.TESTING_DOC.read_text()
    assert build_release.sync_settings(readme) == readme, (
        "README.md's settings table is stale: run make release (or python -m tools.build.release)"
    )
    assert build_release.sync_settings(testing, settings.DOCS_SCOPES) == testing, (
        "docs/testing.md's settings table is stale: run make release (or python -m tools.build.release)"
    )
    for s in settings.ALL:  # every setting is listed once, where its readers look
        listed = readme if s.scope in settings.README_SCOPES else testing
        assert f"| `{s.name}` |" in listed, s.name


def test_a_readme_without_the_markers_is_refused_with_a_clear_message():
    with pytest.raises(errors.PointsError, match="lost a generated section.*BEGIN SETTINGS"):
        build_release.sync_settings("# README\n\nno table here\n")


def test_a_zips_limits_file_sets_the_routes_limits_and_the_environment_wins(tmp_path):
    import subprocess
    import sys
    import zipfile

    from tools.build import limits
    from tools.build.release import ROOT

    made = tmp_path / "slow.zip"
    new_id = limits.with_limits(ROOT / "autograder" / "hw1-autograder.zip", made, {"HW1_CELL_TIMEOUT": "1200"})
    with zipfile.ZipFile(made) as z:
        z.extractall(tmp_path / "zip")
        assert z.read("files/hw1_trusted/AUTOGRADER_ID").decode() == new_id
    read = "from hw1_trusted import settings; print(settings.CELL_TIMEOUT.value())"  # found in the working folder
    files = str(tmp_path / "zip" / "files")

    def cell_timeout(env):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HW1_")}
        return subprocess.run([sys.executable, "-E", "-s", "-c", read], cwd=files, env={**clean, **env},
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip

    assert cell_timeout({}) == "1200"
    assert cell_timeout({"HW1_CELL_TIMEOUT": "7"}) == "7"
    with pytest.raises(ValueError):
        limits.with_limits(made, tmp_path / "other.zip", {"HW1_SANDBOX": "none"})  # only the grading limits
