"""The release: current, deterministic, consistent with the configuration, and leak-free."""

import json
import re
import shutil
import sys
import zipfile
from importlib import metadata

import nbformat
import pytest
import yaml

from tools import ROOT
from tools.build import leak_scan, master_notebook
from tools.build import release as build_release

NB = build_release.NOTEBOOK


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def deterministic_files(release):
    """{relative path: bytes} of what a build makes byte for byte on any machine: student/ and the zip."""
    files = {
        p.relative_to(release).as_posix(): p.read_bytes()
        for p in sorted((release / "student").rglob("*"))
        if p.is_file()
    }
    files["autograder/" + build_release.ZIP_NAME] = (release / "autograder" / build_release.ZIP_NAME).read_bytes()
    return files


def executed_shape(path):
    """What an executed notebook shows that no CPU changes: every cell's source, which outputs it has (their
    kinds and media types, so plots count), and its printed lines with the numbers masked.

    Float reductions in torch and numpy differ between CPUs, so the solutions' losses, accuracies and plots
    are not byte-stable across machines; their structure is."""
    cells = []
    for cell in nbformat.read(path, as_version=4).cells:
        outputs = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                # a print may reach the notebook in one stream output or several, as the kernel flushes: join them
                if outputs and outputs[-1][:2] == ["stream", output.name]:
                    outputs[-1][3] += output.text
                else:
                    outputs.append(["stream", output.name, [], output.text])
            else:
                outputs.append([output.output_type, "", sorted(output.get("data", {}))])
        for kind in outputs:
            if kind[0] == "stream":
                kind[3] = " ".join(NUMBER.sub("#", kind[3]).split())
        cells.append([cell.cell_type, cell.get("id"), cell.source, outputs])
    return cells


@pytest.mark.release
def test_committed_release_is_byte_identical_to_a_fresh_build(fresh_release):
    # The committed release came from an earlier build, so this also proves two builds agree: a rebuild
    # without changes leaves student/ and the zip as they are, on any machine.
    fresh, committed = deterministic_files(fresh_release), deterministic_files(ROOT)
    assert sorted(committed) == sorted(fresh), "student/ or autograder/ has different files: run the build command"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale release files (rebuild and commit them): {stale}"


@pytest.mark.release
def test_committed_solutions_match_a_fresh_build_up_to_the_cpu(fresh_release):
    # The executed numbers depend on the CPU (see executed_shape): the sources, the outputs each cell has,
    # the plots and the printed lines must agree; the numbers in them may not.
    fresh, committed = executed_shape(fresh_release / "solutions" / NB), executed_shape(ROOT / "solutions" / NB)
    assert len(fresh) == len(committed), "solutions/hw1.ipynb has a different number of cells: run the build command"
    stale = [c[1] for c, f in zip(committed, fresh) if c != f]
    assert not stale, f"solutions/hw1.ipynb is stale in cells {stale} (rebuild and commit it)"


@pytest.mark.release
def test_executed_shape_ignores_numbers_and_sees_everything_else(fresh_release, tmp_path):
    # positive and negative controls of the comparison above, on the fresh solutions
    path = fresh_release / "solutions" / NB
    nb = nbformat.read(path, as_version=4)
    streams = [
        (c, o) for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream" and NUMBER.search(o.text)
    ]
    assert streams, "the solutions print numbers"
    streams[0][1].text = NUMBER.sub("7.25", streams[0][1].text)
    nbformat.write(nb, tmp_path / "numbers.ipynb")
    assert executed_shape(tmp_path / "numbers.ipynb") == executed_shape(path), "other numbers must not count"
    plot_cell = next(c for c in nb.cells if any("image/png" in o.get("data", {}) for o in c.get("outputs", [])))
    plot_cell.outputs = [o for o in plot_cell.outputs if "image/png" not in o.get("data", {})]
    nbformat.write(nb, tmp_path / "no_plot.ipynb")
    assert executed_shape(tmp_path / "no_plot.ipynb") != executed_shape(path), "a lost plot must count"
    streams[0][1].text = streams[0][1].text.replace("epoch", "round").replace("accuracy", "score") + "extra line\n"
    nbformat.write(nb, tmp_path / "words.ipynb")
    assert executed_shape(tmp_path / "words.ipynb") != executed_shape(tmp_path / "no_plot.ipynb"), (
        "changed words must count"
    )


@pytest.mark.release
@pytest.mark.parametrize("folder", ["committed", "fresh"])
def test_solutions_notebook_is_executed_with_outputs(folder, fresh_release):
    release = ROOT if folder == "committed" else fresh_release
    nb = nbformat.read(release / "solutions" / NB, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and "grader.export(" not in c.source]
    unexecuted = [c.source[:40] for c in code if c.execution_count is None]
    assert not unexecuted, f"cells not executed: {unexecuted}"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"the solutions notebook raised: {errors[0].ename}: {errors[0].evalue}"
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, (
        "the solutions should show their plots (datasets, l1 demo, loss curves, probabilities, digit)"
    )


def read_zip_text(zip_path, name):
    with zipfile.ZipFile(zip_path) as z:
        return z.read(name).decode()


@pytest.mark.release
def test_zip_otter_config_is_otter_config_json(fresh_zip):
    in_zip = json.loads(read_zip_text(fresh_zip, "otter_config.json"))
    assert in_zip == json.loads((ROOT / "otter_config.json").read_text())


def pinned(lines):
    return sorted(line.strip() for line in lines if line.strip() and not line.strip().startswith(("#", "-")))


@pytest.mark.release
def test_zip_environment_is_the_locked_tested_environment(fresh_zip):
    environment = yaml.safe_load(read_zip_text(fresh_zip, "environment.yml"))
    python = [d for d in environment["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert python == [f"python={sys.version_info.major}.{sys.version_info.minor}"], (
        "Gradescope's Python differs from the tested one"
    )
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip[0] == "--index-url https://download.pytorch.org/whl/cpu", "Gradescope must take torch from the CPU index"
    pins = dict(line.split("==") for line in pip if "==" in line)
    assert pins["torch"].endswith("+cpu") and pins["torchvision"].endswith("+cpu")
    assert not [name for name in pins if name.startswith(("nvidia-", "cuda-")) or name == "triton"], (
        "CUDA-only packages"
    )
    # every other installed package of the tested environment is pinned at its tested version
    installed = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in metadata.distributions()}
    for name, version in pins.items():
        assert installed.get(name) == version.removesuffix("+cpu"), (
            f"the zip pins {name}=={version}, the tests run {installed.get(name)}"
        )
    lock = [l for l in (ROOT / "requirements-lock.txt").read_text().splitlines() if "==" in l]
    assert len(pins) == len(lock) >= 100


def test_lock_is_this_environment():
    import subprocess

    run = subprocess.run(
        [sys.executable, "-m", "tools.build.lock", "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert run.returncode == 0, run.stdout + run.stderr


def torch_check(fresh_zip):
    setup = read_zip_text(fresh_zip, "setup.sh")
    return setup.split("# BEGIN TORCH CHECK", 1)[1].split("# END TORCH CHECK", 1)[0]


@pytest.mark.release
@pytest.mark.parametrize(
    "torch_version, passes", [("2.14.1+cpu", True), ("2.14.1", False), ("2.14.1+cu130", False), ("2.13.0+cpu", False)]
)
def test_setup_sh_refuses_any_torch_but_the_cpu_build(fresh_zip, tmp_path, torch_version, passes):
    """The CPU index cannot be reached from here: the check runs against stand-in torch packages."""
    import subprocess

    for name, version in (("torch", torch_version), ("torchvision", "0.29.1+cpu")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"__version__ = {version!r}\n")
    run = subprocess.run(
        [sys.executable, "-c", torch_check(fresh_zip)],
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert (run.returncode == 0) == passes, run.stdout + run.stderr
    if not passes:
        assert "not the CPU builds" in run.stderr


@pytest.mark.release
def test_setup_sh_installs_no_browser_and_verifies_the_data(fresh_zip):
    setup = read_zip_text(fresh_zip, "setup.sh")
    assert "playwright" not in setup and "chromium" not in setup and "texlive" not in setup
    assert "md5sum -c" in setup and setup.count("-ubyte.gz") == 8
    assert "/root" not in setup


@pytest.mark.release
def test_zip_carries_every_test_of_the_master(fresh_zip):
    with zipfile.ZipFile(fresh_zip) as z:
        names = z.namelist()
        test_sources = {n: z.read(n).decode() for n in names if n.startswith("tests/")}
    assert (
        "files/hw1_probes.py" in names
        and "files/hw1_trusted/checks/__init__.py" in names
        and "files/hw1_untrusted/runner.py" in names
        and "files/hw1_trusted/secret_seed" in names
    )
    questions = master_notebook.autograded_questions()
    assert sorted(test_sources) == sorted(f"tests/{q}.py" for q in questions)
    for name in master_notebook.test_function_names():
        assert any(f"def {name}(" in src for src in test_sources.values()), f"{name} is missing from the zip"
    hidden = sum(src.count("hidden=True") for src in test_sources.values())
    assert hidden == len(master_notebook.test_function_names(hidden=True)) == len(questions), "one probe per question"
    for name, src in test_sources.items():
        # public tests never carry points: the verdict is the trusted phase's alone
        assert re.findall(r"@test_case\(points=([^,]+), hidden=False", src) in (
            [],
            ["0"],
            ["0"] * src.count("hidden=False"),
        ), name


@pytest.mark.release
def test_student_release_has_no_solution_and_no_hidden_test(fresh_release):
    assert leak_scan.find_leaks(fresh_release / "student") == []


@pytest.mark.release
def test_leak_scanner_finds_solutions_and_hidden_tests(fresh_release, tmp_path):
    # positive control: the same scan flags the solutions notebook and the autograder's tests
    shutil.copyfile(fresh_release / "solutions" / NB, tmp_path / NB)
    with zipfile.ZipFile(fresh_release / "autograder" / build_release.ZIP_NAME) as z:
        z.extract("tests/q5_3.py", tmp_path)
    leaks = leak_scan.find_leaks(tmp_path)
    assert sum("solution line" in leak for leak in leaks) == len(master_notebook.solution_lines())
    assert any("hidden test test_q5_3_probe" in leak for leak in leaks)


@pytest.mark.release
def test_student_release_has_every_public_test(fresh_release):
    public_sources = "\n".join(p.read_text() for p in (fresh_release / "student" / "tests").glob("*.py"))
    for name in master_notebook.test_function_names(hidden=False):
        assert f"def {name}(" in public_sources, f"the public test {name} is missing for students"
