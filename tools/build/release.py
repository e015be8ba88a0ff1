"""Builds the HW1 release from the master notebook.

    python -m tools.build.release [--out DIR]      (make release)

Runs the real ``otter assign`` (with its tests on, so the solution must pass
its own tests) on a copy of ``assignment/``, with ``otter_config.json`` fed in
as the autograder configuration, then writes:

* ``student/``: the student notebook and its public tests;
* ``solutions/hw1.ipynb``: the solutions notebook, executed, with outputs;
* ``autograder/hw1-autograder.zip``: the Gradescope autograder, rebuilt with
  fixed entry order and timestamps so that two builds are byte-identical.

``--out`` writes the three folders somewhere else (the tests use it to rebuild
and compare with the committed release). Built into the repository itself, it also rewrites the
README's generated sections: the points table, the written part's outline and the table of settings.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib

import nbformat

from tools import ASSIGNMENT, ROOT, errors
from tools.build import lock, points
from tools.build.master_notebook import NOTEBOOK
from tools.data_cache import data_environment
from tools.grade import gradescope
from tools.trusted import settings, trusted_module

ZIP_NAME = settings.ZIP_NAME
ZIP_DATE = (2023, 9, 29, 17, 0, 0)


def zip_requirements():
    """The zip's requirements.txt: the locked tested environment, torch from PyTorch's CPU index (tools/build/lock.py)."""
    return lock.zip_requirements(lock.LOCK.read_text())


def hidden_checks(assignment):
    """hw1_trusted.checks of the assignment being built (its CASES)."""
    return trusted_module("checks", assignment)


def prepare_sources(build, assignment=ASSIGNMENT):
    """Copies assignment/ into build/, checks its points, writes them into the text, and feeds it the
    autograder configuration."""
    src = build / "src"
    shutil.copytree(assignment, src, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    (src / "requirements.txt").write_text(zip_requirements())
    nb = nbformat.read(src / NOTEBOOK, as_version=4)
    config_cell = nb.cells[0]
    assert config_cell.cell_type == "raw" and config_cell.source.startswith("# ASSIGNMENT CONFIG")
    assert "generate:" not in config_cell.source, "the autograder configuration lives in otter_config.json"
    otter_config = json.loads((ROOT / "otter_config.json").read_text())
    config_cell.source += "\ngenerate: " + json.dumps(otter_config)  # JSON is YAML
    nbformat.write(nb, src / NOTEBOOK)
    points.check(src / NOTEBOOK, hidden_checks(assignment).CASES)
    points.fill(src / NOTEBOOK)
    points.fill_policy(
        src / NOTEBOOK, points.load_policy(assignment)
    )  # the bars, limits and visibility students are told
    (src / "hw1_trusted" / "points.json").write_text(points.points_json(src / NOTEBOOK))
    return src / NOTEBOOK


TIMING = re.compile(r"\((\d+(?:\.\d+)?) s\)")  # the training loops' "(4.3 s)" per epoch


def mask_timings(path):
    """Wall-clock times in printed output become "(… s)", and a stream's consecutive outputs one: they differ on
    every run, and a rebuild without changes must leave the committed solutions as they are."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        merged = []  # consecutive prints to one stream are one output: how the kernel chunks them varies
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = TIMING.sub("(… s)", output["text"])
                previous = merged[-1] if merged else {}
                if previous.get("output_type") == "stream" and previous.get("name") == output.get("name"):
                    previous["text"] += output["text"]
                    continue
            merged.append(output)
        if "outputs" in cell:
            cell["outputs"] = merged
    nbformat.write(nb, path)


def normalise_notebook(path):
    """Stable cell ids and no execution noise in the notebook's metadata."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
        cell.metadata.pop("execution", None)
        if "skip-execution" in cell.metadata.get("tags", []):
            cell.metadata["tags"].remove("skip-execution")
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


STAMP = "files/hw1_trusted/AUTOGRADER_ID"


def setup_sh(assignment=ASSIGNMENT):
    """setup.sh with the datasets' MD5s filled in from the grader's own list (one source)."""
    MD5 = trusted_module("data", assignment).MD5
    sums = "\n".join(f"{md5}  {name}/raw/{filename}" for name, files in MD5.items() for filename, md5 in files.items())
    pins = lock.pins()
    return (
        (assignment / "setup.sh")
        .read_text()
        .replace("@MD5SUMS@", sums)
        .replace("@TORCH@", pins["torch"])
        .replace("@TORCHVISION@", pins["torchvision"])
    )


def trusted_entries(src):
    """The grader's route and checks (hw1_trusted) and the sandbox's runner (hw1_untrusted), for files/ (otter
    grade's Dockerfile copies files/ and tests/ only).

    src: the prepared sources (prepare_sources), which hold the generated points.json."""
    entries = {
        f"files/{p.relative_to(src).as_posix()}": p.read_bytes()
        for package in ("hw1_trusted", "hw1_untrusted")
        for p in sorted((src / package).rglob("*"))
        if p.is_file() and (p.suffix == ".py" or p.name in ("secret_seed", "points.json"))
    }
    entries["run_autograder"] = (src / "run_autograder").read_bytes()
    entries["setup.sh"] = setup_sh(src).encode()
    return entries


def autograder_id(entries):
    """The autograder's identity: a hash of every entry but the stamp itself; it goes into every result."""
    digest = hashlib.sha256()
    for name, data in sorted(entries.items()):
        if name != STAMP:
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


PUBLIC_TESTS_LINE = 'PUBLIC_TESTS = ""  # the public tests, filled in when the notebook is built'
CLIENT_LINE = (
    "CLIENT_PACKAGES = {}  # pinned requirement -> the module it provides, filled in when the notebook is built"
)
# What the setup cell installs where the kernel cannot import it (Colab): otter-grader and the modules of its own
# that its checks and export import, which Colab may lack. Each at the version of the tested environment (the lock).
CLIENT_MODULES = {
    "otter-grader": "otter",
    "fica": "fica",
    "python-frontmatter": "frontmatter",
    "ipylab": "ipylab",
    "dill": "dill",
    "wrapt": "wrapt",
    "pyyaml": "yaml",
}


def client_packages():
    """{pinned requirement: module} for the setup cell, the versions from requirements-lock.txt."""
    pins = lock.pins()
    return {f"{name}=={pins[name]}": module for name, module in CLIENT_MODULES.items()}


def setup_cell(nb):
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "PUBLIC_TESTS = " in c.source]
    return cell


def encode_public_tests(tests):
    """{file name: source} as the setup cell carries them: JSON, compressed, in base64 (a third of the size)."""
    return base64.b64encode(zlib.compress(json.dumps(tests, sort_keys=True).encode(), 9)).decode()


def embedded_public_tests(nb):
    """{file name: source} of the public tests that the built notebook's setup cell writes (for scans and tests)."""
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    found = [m for source in sources for m in re.findall(r'^PUBLIC_TESTS = "([A-Za-z0-9+/=]+)"', source, flags=re.M)]
    return {
        name: text for encoded in found for name, text in json.loads(zlib.decompress(base64.b64decode(encoded))).items()
    }


def embed_public_tests(notebook, tests_dir):
    """Fills the notebook's setup cell: the grading client's pins, and the public tests, which it writes into
    tests/ when that folder is missing (Colab)."""
    tests = {p.name: p.read_text() for p in sorted(pathlib.Path(tests_dir).glob("*.py"))}
    nb = nbformat.read(notebook, as_version=4)
    cell = setup_cell(nb)
    for line in (PUBLIC_TESTS_LINE, CLIENT_LINE):
        if line not in cell.source:
            raise ValueError(f"the setup cell of {notebook} lacks the line {line!r}")
    cell.source = cell.source.replace(
        PUBLIC_TESTS_LINE, f'PUBLIC_TESTS = "{encode_public_tests(tests)}"  # the public tests, compressed'
    ).replace(CLIENT_LINE, f"CLIENT_PACKAGES = {json.dumps(client_packages())}")
    nbformat.write(nb, notebook)


def deterministic_zip(source_zip, target_zip, src):
    """Rewrites a zip with the grader's own route, sorted entries, fixed timestamps and permissions."""
    with zipfile.ZipFile(source_zip) as otter_zip:
        entries = {info.filename: otter_zip.read(info) for info in otter_zip.infolist() if not info.is_dir()}
    entries.update(trusted_entries(src))
    write_zip(entries, target_zip)


def write_zip(entries, target_zip):
    """The zip of ``entries`` ({name: bytes}) with its autograder id stamped in, sorted entries, fixed timestamps
    and permissions: the same entries give the same bytes."""
    entries = {**entries, STAMP: autograder_id(entries).encode()}
    with zipfile.ZipFile(target_zip, "w") as out:
        for name, data in sorted(entries.items()):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name.endswith(".sh") or name == "run_autograder" else 0o644) << 16
            info.create_system = 3
            out.writestr(info, data)


def execute_notebook(path, env, allow_errors=False, export=False):
    """Runs the solutions notebook top to bottom in a fresh kernel, keeping its outputs.

    It runs beside the public tests only (hidden tests are probes, which need the grader's
    sandbox). The export cell is skipped unless ``export``: it writes a submission zip.
    """
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "grader.export(" in cell.source and not export:
            cell.metadata.setdefault("tags", []).append("skip-execution")
    nbformat.write(nb, path)
    # nbconvert's own module, not `-m jupyter nbconvert`: Jupyter's dispatcher runs the first jupyter-nbconvert on
    # PATH, which on many machines (pyenv, conda, Homebrew) is another environment's, without this one's kernel
    subprocess.run(
        [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--inplace",
            "--ExecutePreprocessor.timeout=1800",
            *(["--allow-errors"] if allow_errors else []),
            str(path),
        ],
        check=True,
        env=env,
        cwd=path.parent,
    )


def build(out, check_solution=True, assignment=ASSIGNMENT, solutions=True):
    """Writes student/, solutions/ and autograder/ into out. solutions=False skips executing the solutions
    (and grading them): the student notebook and the zip alone, for tests of the build itself."""
    env = data_environment(threads=1)  # one thread: deterministic, and as the grader runs it
    with tempfile.TemporaryDirectory(prefix="hw1-build-") as tmp:
        tmp = pathlib.Path(tmp)
        master = prepare_sources(tmp, assignment)
        dist = tmp / "dist"
        # otter assign's own test run would run the probes in its kernel: the solution is graded through the route below
        subprocess.run(
            [sys.executable, "-m", "otter", "assign", "--no-pdfs", str(master), str(dist)],
            check=True,
            env=env,
            cwd=master.parent,
        )

        for folder in ("student", "solutions", "autograder"):
            shutil.rmtree(out / folder, ignore_errors=True)
            (out / folder).mkdir(parents=True)

        shutil.copytree(dist / "student", out / "student", dirs_exist_ok=True)
        embed_public_tests(out / "student" / NOTEBOOK, out / "student" / "tests")
        normalise_notebook(out / "student" / NOTEBOOK)

        (zip_path,) = (dist / "autograder").glob("*-autograder_*.zip")
        deterministic_zip(zip_path, out / "autograder" / ZIP_NAME, master.parent)
        if not solutions:
            return

        # executed beside the public tests, as a student runs it, so its grader.check cells run
        run_dir = tmp / "solution-run"
        shutil.copytree(dist / "student", run_dir)
        shutil.copyfile(dist / "autograder" / NOTEBOOK, run_dir / NOTEBOOK)
        embed_public_tests(run_dir / NOTEBOOK, run_dir / "tests")
        # the route grades the solution as it ships (its code; a grading runs the notebook afresh) while it runs
        # here: each takes about 28 s of one CPU, so the build waits for one of them, not both
        upload = tmp / "solution-upload" / NOTEBOOK
        upload.parent.mkdir()
        shutil.copyfile(run_dir / NOTEBOOK, upload)
        normalise_notebook(upload)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as side:
            grading = side.submit(grade_solution, upload, tmp / "solution-graded", out) if check_solution else None
            execute_notebook(run_dir / NOTEBOOK, env)
            shutil.copyfile(run_dir / NOTEBOOK, out / "solutions" / NOTEBOOK)
            normalise_notebook(out / "solutions" / NOTEBOOK)
            mask_timings(out / "solutions" / NOTEBOOK)
            if grading is not None:
                grading.result()


def grade_solution(upload, graded, out):
    """The package's grading route on the solution, as Gradescope runs the zip; ReleaseError below full marks."""
    result = gradescope.run_as_gradescope(
        upload, graded, out / "autograder" / ZIP_NAME, user="hw1build"
    )  # a user of its own: gradings at once need one each
    if result.total != result.possible:
        raise errors.ReleaseError(
            f"the solution scored {result.total}/{result.possible} through the grading route:\n{result.failures()}"
        )


SETTINGS_BEGIN = "<!-- BEGIN SETTINGS: generated by make release from assignment/hw1_trusted/settings.py -->"
SETTINGS_END = "<!-- END SETTINGS -->"
TESTING_DOC = ROOT / "docs" / "testing.md"  # the suite's own settings (scope tests) are listed there


def sync_settings(text, scopes=settings.README_SCOPES):
    """text (the README, or docs/testing.md) with its table of settings made anew from
    assignment/hw1_trusted/settings.py: the README lists what an instructor may set, the testing doc the rest."""
    text, _ = points.replace_block(text, SETTINGS_BEGIN, SETTINGS_END, "\n\n" + settings.settings_table(scopes) + "\n")
    return text


def sync_readme(readme_text):
    """Every generated section of the README: the points table and the outline (tools/build/points.py), the settings."""
    text = points.sync_readme(readme_text, ASSIGNMENT / NOTEBOOK, hidden_checks(ASSIGNMENT).CASES)
    return sync_settings(text)


def main():
    parser = argparse.ArgumentParser(
        prog="python -m tools.build.release", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=pathlib.Path, default=ROOT, help="where to write student/, solutions/, autograder/"
    )
    args = parser.parse_args()
    build(args.out.resolve())
    if args.out.resolve() == ROOT:  # the README's generated sections follow the master notebook and the settings
        readme = ROOT / "README.md"
        readme.write_text(sync_readme(readme.read_text()))
        TESTING_DOC.write_text(sync_settings(TESTING_DOC.read_text(), settings.DOCS_SCOPES))
    print(f"release written to {args.out}/{{student,solutions,autograder}}")


if __name__ == "__main__":
    errors.run(main)
