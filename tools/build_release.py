"""Builds the HW1 release from the master notebook.

    python tools/build_release.py [--out DIR]

Runs the real ``otter assign`` (with its tests on, so the solution must pass
its own tests) on a copy of ``assignment/``, with ``otter_config.json`` fed in
as the autograder configuration, then writes:

* ``student/``: the student notebook and its public tests;
* ``solutions/hw1.ipynb``: the solutions notebook, executed, with outputs;
* ``autograder/hw1-autograder.zip``: the Gradescope autograder, rebuilt with
  fixed entry order and timestamps so that two builds are byte-identical.

``--out`` writes the three folders somewhere else (the tests use it to rebuild
and compare with the committed release).
"""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

import nbformat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from data_cache import data_environment  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = "hw1.ipynb"
ZIP_NAME = "hw1-autograder.zip"
# Gradescope has no GPU: its image takes the CPU build of the same torch version.
CPU_WHEELS = "--extra-index-url https://download.pytorch.org/whl/cpu"
ZIP_DATE = (2023, 9, 29, 17, 0, 0)


def zip_requirements():
    """The zip's requirements.txt: the CPU wheel index, then the pins of requirements.txt."""
    return CPU_WHEELS + "\n" + (ROOT / "requirements.txt").read_text()


def prepare_sources(build):
    """Copies assignment/ into build/ and feeds it the autograder configuration."""
    src = build / "src"
    shutil.copytree(ROOT / "assignment", src, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    (src / "requirements.txt").write_text(zip_requirements())
    nb = nbformat.read(src / NOTEBOOK, as_version=4)
    config_cell = nb.cells[0]
    assert config_cell.cell_type == "raw" and config_cell.source.startswith("# ASSIGNMENT CONFIG")
    assert "generate:" not in config_cell.source, "the autograder configuration lives in otter_config.json"
    otter_config = json.loads((ROOT / "otter_config.json").read_text())
    config_cell.source += "\ngenerate: " + json.dumps(otter_config)  # JSON is YAML
    nbformat.write(nb, src / NOTEBOOK)
    return src / NOTEBOOK


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


def deterministic_zip(source_zip, target_zip):
    """Rewrites a zip with sorted entries, fixed timestamps and fixed permissions."""
    with zipfile.ZipFile(source_zip) as src:
        entries = sorted((info.filename, src.read(info)) for info in src.infolist() if not info.is_dir())
    with zipfile.ZipFile(target_zip, "w") as out:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name.endswith(".sh") or name == "run_autograder" else 0o644) << 16
            info.create_system = 3
            out.writestr(info, data)


def execute_notebook(path, env, allow_errors=False):
    """Runs the solutions notebook top to bottom in a fresh kernel, keeping its outputs.

    The export cell is skipped: it writes a submission zip and needs LaTeX for the PDF.
    """
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "grader.export(" in cell.source:
            cell.metadata.setdefault("tags", []).append("skip-execution")
    nbformat.write(nb, path)
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
         "--ExecutePreprocessor.timeout=1800", *(["--allow-errors"] if allow_errors else []), str(path)],
        check=True, env=env, cwd=path.parent,
    )


def build(out):
    env = data_environment()
    with tempfile.TemporaryDirectory(prefix="hw1-build-") as tmp:
        tmp = pathlib.Path(tmp)
        master = prepare_sources(tmp)
        dist = tmp / "dist"
        # otter assign grades the solution with the real autograder: it fails unless it gets full marks
        subprocess.run([sys.executable, "-m", "otter", "assign", "--no-pdfs", str(master), str(dist)],
                       check=True, env=env, cwd=master.parent)

        for folder in ("student", "solutions", "autograder"):
            shutil.rmtree(out / folder, ignore_errors=True)
            (out / folder).mkdir(parents=True)

        shutil.copytree(dist / "student", out / "student", dirs_exist_ok=True)
        normalise_notebook(out / "student" / NOTEBOOK)

        (zip_path,) = (dist / "autograder").glob("*-autograder_*.zip")
        deterministic_zip(zip_path, out / "autograder" / ZIP_NAME)

        # executed beside the autograder's tests and support files, so its grader.check cells run
        execute_notebook(dist / "autograder" / NOTEBOOK, env)
        shutil.copyfile(dist / "autograder" / NOTEBOOK, out / "solutions" / NOTEBOOK)
        normalise_notebook(out / "solutions" / NOTEBOOK)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT, help="where to write student/, solutions/, autograder/")
    args = parser.parse_args()
    build(args.out.resolve())
    print(f"release written to {args.out}/{{student,solutions,autograder}}")


if __name__ == "__main__":
    main()
