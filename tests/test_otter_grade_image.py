"""``otter grade`` builds its image from Otter's Dockerfile: replayed here, since there is no Docker engine.

Its Dockerfile copies only some of the zip's files, and copies ``files/`` and ``tests/`` after
``setup.sh`` has run; the host then unpickles the container's ``results.pkl``. The test replays
the copy order and checks that the image would hold the whole trusted route, that ``setup.sh``
needs nothing copied after it, and that ``results.pkl`` is the trusted phase's verdict.
"""

import pathlib
import re
import shutil
import zipfile

import dill
import otter.grade
import pytest
import yaml
from otter.test_files import GradingResults

DOCKERFILE = pathlib.Path(otter.grade.__file__).parent / "Dockerfile"


def replay(zip_path, image):
    """Applies the Dockerfile's ADD lines in order; returns the files present when setup.sh runs."""
    source = image / "context"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(source)
    at_setup = None
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("RUN") and "setup.sh" in line:
            at_setup = {
                p.relative_to(image).as_posix() for p in image.rglob("*") if p.is_file() and "context" not in p.parts
            }
        match = re.match(r"ADD (.+) (\S+)$", line)
        if not match:
            continue
        *sources, target = match.group(1).split() + [match.group(2)]
        for pattern in sources:
            for path in sorted(source.glob(pattern)):
                dest = image / target.lstrip("/")
                if target.endswith("/"):
                    dest = dest / path.name if path.is_file() else dest
                if path.is_dir():
                    shutil.copytree(path, dest, dirs_exist_ok=True)
                else:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, dest)
    return at_setup


@pytest.mark.release
def test_image_holds_the_trusted_route_and_setup_needs_nothing_later(fresh_zip, tmp_path):
    at_setup = replay(fresh_zip, tmp_path)
    ag = tmp_path / "autograder"
    run_autograder = (ag / "run_autograder").read_text()
    assert 'hw1_trusted/__main__.py" route' in run_autograder
    for name in (
        "__main__.py",
        "route.py",
        "checks/__init__.py",
        "checks/p5.py",
        "verdict.py",
        "sandbox.py",
        "secret_seed",
        "points.json",
        "AUTOGRADER_ID",
    ):
        assert (ag / "source" / "files" / "hw1_trusted" / name).is_file(), name
    assert (ag / "source" / "files" / "hw1_probes.py").is_file()
    assert (ag / "source" / "files" / "hw1_untrusted" / "runner.py").is_file()
    assert sorted(p.name for p in (ag / "source" / "tests").glob("*.py"))
    # setup.sh runs before files/ and tests/ exist: it may use only what was copied before it
    assert (
        at_setup is not None
        and "autograder/source/setup.sh" in at_setup
        and "autograder/source/environment.yml" in at_setup
    )
    setup = (ag / "source" / "setup.sh").read_text()
    # only an optional step may name them, run where they exist (Gradescope unzips the whole zip before setup.sh)
    required, optional = re.subn(r"# BEGIN OPTIONAL.*?# END OPTIONAL", "", setup, flags=re.S)
    assert "files/" not in required and "/tests" not in required
    block = re.search(r"# BEGIN OPTIONAL.*?# END OPTIONAL", setup, flags=re.S).group(0) if optional else ""
    assert optional <= 1 and ("files/" not in block or 'if [ -f "$ENTRY" ]; then' in block)
    # run_autograder's default interpreter is the one setup.sh creates, outside /root
    env_name = yaml.safe_load((ag / "source" / "environment.yml").read_text())["name"]
    default_python = re.search(r"HW1_PYTHON:-([^}]+)}", run_autograder).group(1)
    assert default_python == f"/opt/hw1-python/envs/{env_name}/bin/python" and "PREFIX=/opt/hw1-python" in setup


@pytest.mark.route
def test_results_pkl_is_the_trusted_verdict(spy_result_dir):
    """The host of otter grade unpickles results.pkl: it is written by the trusted phase, with its scores."""
    results_dir, result = spy_result_dir
    with open(results_dir / "results.pkl", "rb") as f:
        scores = dill.load(f)
    assert isinstance(scores, GradingResults)
    assert scores.total == result.total and scores.possible == result.possible
    assert scores.get_plugin_data("hw1")["autograder"] == result.raw["extra_data"]["autograder"]
