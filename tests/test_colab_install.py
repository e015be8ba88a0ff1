"""The setup cell on Colab's own packages: an environment built from Colab's package list
(tests/colab/packages.txt, the part of Colab's published pip freeze that the install can touch) with a stand-in
google-colab distribution that carries google-colab's pins and Colab's kernel class. The student release's setup
cell runs there in a kernel that Otter takes for Colab's, in a folder without the notebook or tests/.

It must change no package of Colab's (pip freeze is the same after), leave `pip check` no worse, print one line,
and give a grading client whose self-checks run under Colab's IPython 7, ipywidgets 7 and wrapt 2. A second run
(Colab's "Restart runtime" keeps the files) installs nothing and prints nothing.

It installs from PyPI: about 20 s for the environment, seconds for the client.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

from tests.helpers import self_check_runs
from tools import ROOT
from tools.build import release as build_release

pytestmark = pytest.mark.release

COLAB_PACKAGES = ROOT / "tests" / "colab" / "packages.txt"
# google-colab is not on PyPI: its distribution is stood in for, with the pins that make pip's resolver complain
COLAB_PINS = ["requests==2.32.4", "ipykernel==6.17.1", "ipython==7.34.0", "notebook==6.5.7", "pandas==2.2.2",
              "tornado==6.4.2"]  # fmt: skip
CORRECT_L1 = "import numpy as np\n\n\ndef l1_loss(X, y, w):\n    return float(np.abs(X @ w - y).sum())\n"
RAISING_L1 = "def l1_loss(X, y, w):\n    return X.no_such_attribute\n"
CHECK = 'grader.check("q2a")'


def pip(python, *args, check=True):
    run = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True)
    if check and run.returncode:
        raise AssertionError(f"pip {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}")
    return run


def freeze(python):
    """{package: version} of the environment (pip freeze, lower-case names)."""
    lines = pip(python, "freeze", "--all").stdout.splitlines()
    return {name.lower(): version for name, _, version in (line.partition("==") for line in lines) if version}


def broken(python):
    """pip check's complaints, one per line (none when it says "No broken requirements found")."""
    lines = pip(python, "check", check=False).stdout.splitlines()
    return {line for line in lines if "No broken requirements" not in line}


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """(python, home): the Colab-like environment's interpreter, and a home folder of its own."""
    folder = tmp_path_factory.mktemp("colab-env")
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
    python = folder / "venv" / "bin" / "python"
    pip(python, "install", "--quiet", "-r", str(COLAB_PACKAGES))
    site = pathlib.Path(
        subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       capture_output=True, text=True, check=True).stdout.strip()
    )  # fmt: skip
    self_check_runs.colab_stub(site)  # google.colab, with Colab's kernel and shell classes, as installed there
    info = site / "google_colab-1.0.0.dist-info"
    info.mkdir()
    metadata = ["Metadata-Version: 2.1", "Name: google-colab", "Version: 1.0.0"]
    (info / "METADATA").write_text("\n".join(metadata + [f"Requires-Dist: {pin}" for pin in COLAB_PINS]) + "\n")
    (info / "RECORD").write_text("")
    assert "google-colab" in freeze(python)
    return python, folder / "home"


def setup_and_check_notebook(release):
    """The student release's setup and grader cells, then a correct and a raising l1_loss, each self-checked."""
    student = nbformat.read(release / "student" / "hw1.ipynb", as_version=4)
    setup = build_release.setup_cell(student)
    (grader,) = [c for c in student.cells if c.cell_type == "code" and "otter.Notebook(" in c.source]
    cells = [setup, grader, *(nbformat.v4.new_code_cell(s) for s in (CORRECT_L1, CHECK, RAISING_L1, CHECK))]
    return nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in cells])


def run_in_colab(colab, nb, folder):
    """Runs nb in a kernel of the Colab environment (Colab's kernel class), working in folder."""
    from nbclient import NotebookClient

    python, home = colab
    kernels = folder.parent / f"{folder.name}-kernels"
    spec = kernels / "kernels" / "colab"
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}", self_check_runs.COLAB_KERNEL]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python", "display_name": "Colab"}))
    folder.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    env.update(HOME=str(home), JUPYTER_PATH=str(kernels))
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(kernels)  # where this process's client finds the kernel spec
    try:
        client = NotebookClient(
            nb, timeout=300, kernel_name="colab", allow_errors=True, resources={"metadata": {"path": str(folder)}}
        )
        client.execute(env=env)
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
    return nb


@pytest.fixture(scope="module")
def installed(colab, fresh_release, tmp_path_factory):
    """The environment before and after the setup cell's first run, and the executed notebook."""
    python, _ = colab
    before = freeze(python), broken(python)
    nb = run_in_colab(colab, setup_and_check_notebook(fresh_release), tmp_path_factory.mktemp("first") / "content")
    return before, (freeze(python), broken(python)), nb


def test_the_install_changes_no_package_of_colabs(installed):
    (packages, _), (after, _), _ = installed
    changed = {name: (version, after.get(name)) for name, version in packages.items() if after.get(name) != version}
    assert not changed, f"the setup cell changed Colab's packages: {changed}"
    assert after == packages, f"the setup cell added packages to Colab's environment: {set(after) - set(packages)}"


def test_pip_check_is_no_worse_after_the_install(installed):
    (_, complaints), (_, now), _ = installed
    assert now <= complaints, f"new complaints of pip check: {now - complaints}"


def test_the_setup_cell_prints_one_line(installed):
    _, _, nb = installed
    setup = nb.cells[0]
    assert not [o for o in setup.outputs if o.output_type == "error"], setup.outputs
    text = self_check_runs.printed(setup)
    assert re.fullmatch(r"Installed the grading client in \d+ s\.\n", text), repr(text)
    seconds = int(re.search(r"\d+", text).group())
    assert seconds < 60, f"the install took {seconds} s"


def test_the_self_checks_run_on_colabs_packages(installed):
    _, _, nb = installed
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    passed, raised = (self_check_runs.printed(c) for c in nb.cells if c.source == CHECK)
    assert "All test cases passed!" in passed, passed
    assert "failed" in raised and "Error at line" not in raised, raised
    assert "(at this line of your l1_loss: return X.no_such_attribute)" in raised, raised


def test_the_folded_setup_cell_shows_its_purpose(fresh_release):
    student = nbformat.read(fresh_release / "student" / "hw1.ipynb", as_version=4)
    cell = build_release.setup_cell(student)
    assert cell.metadata.get("cellView") == "form", cell.metadata  # Colab folds it to its title
    assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, cell.metadata  # Jupyter, JupyterLab
    assert re.match(r'#@title Setup: run this cell first \{ display-mode: "form" \}\n', cell.source), cell.source[:120]
    assert len(cell.source) < 20000, f"the setup cell holds {len(cell.source)} characters"


def test_a_second_run_installs_nothing_and_prints_nothing(installed, colab, fresh_release, tmp_path):
    python, _ = colab
    nb = run_in_colab(colab, setup_and_check_notebook(fresh_release), tmp_path / "content")
    assert self_check_runs.printed(nb.cells[0]) == "", nb.cells[0].outputs
    _, (after, _), _ = installed
    assert freeze(python) == after
