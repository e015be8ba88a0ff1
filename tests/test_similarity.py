"""The code-similarity report (tools/report/similarity.py) on real submissions built from the student release."""

import ast
import io
import re
import tokenize

import nbformat
import pytest

from tests.corpus import students
from tools.build import release as build_release
from tools.report import similarity

pytestmark = pytest.mark.release

NB = build_release.NOTEBOOK
COPIED = "loops"  # the style that a student copies and disguises


def renamed(nb):
    """A copy of a submission with every local name renamed, as a student hiding a copy would do it."""
    nb = nbformat.from_dict(nb)
    local = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            local |= {a.arg for a in function.args.args if a.arg not in ("self",)}
            local |= {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    new_names = {name: f"my_{name}_renamed" for name in local}
    assert len(new_names) >= 10, "the copied style has local names to rename"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(cell.source).readline))
        except (tokenize.TokenError, IndentationError):
            continue
        out, previous = [], None
        for token in tokens:
            if token.type == tokenize.NAME and token.string in new_names and previous != ".":
                token = token._replace(string=new_names[token.string])
            out.append(token)
            previous = token.string
        cell.source = tokenize.untokenize(out)
    return nb


@pytest.fixture(scope="module")
def class_folder(fresh_release, tmp_path_factory):
    """A class: every correct style of the corpus, the untouched student notebook, and a disguised copy."""
    folder = tmp_path_factory.mktemp("class")
    student = fresh_release / "student" / NB
    for name in students.CORRECT:
        nbformat.write(students.build_correct(name, student), folder / f"{name}.ipynb")
    nbformat.write(nbformat.read(student, as_version=4), folder / "starter_only.ipynb")
    copy = renamed(students.build_correct(COPIED, student))
    nbformat.write(copy, folder / "disguised_copy.ipynb")
    return folder


@pytest.fixture(scope="module")
def report(class_folder, fresh_release, tmp_path_factory):
    out = tmp_path_factory.mktemp("similarity")
    path, pairs = similarity.similarity_report(class_folder, out, starter=fresh_release / "student" / NB)
    return path, pairs


def score(pair):
    return (pair[2] + pair[3]) / 2


def test_a_disguised_copy_ranks_first(report):
    path, pairs = report
    top = pairs[0]
    assert {top[0], top[1]} == {f"{COPIED}.ipynb", "disguised_copy.ipynb"}, f"the most similar pair is {top[:2]}"
    assert score(top) > 0.9, f"a renamed copy shares {score(top):.0%}"
    page = path.read_text()
    assert "disguised_copy.ipynb" in page and 'href="#pair-1"' in page and 'id="pair-1"' in page
    assert "highlight-red" in page, "the side-by-side view highlights the shared code"
    distribution = page.split("<h2>All pairs", 1)[1].split("</table>", 1)[0]
    counts = [int(n) for n in re.findall(r"<td class=num>(\d+)</td>", distribution)]
    assert len(counts) == 10 and sum(counts) == len(pairs) and counts[9] >= 1, "every pair is in the distribution"


# The corpus's correct styles are assembled from shared snippets (one 4(d) plot, a few train_epoch
# variants, ...), so most pairs of them really share code; these two were written to differ everywhere.
INDEPENDENT = ("column_vectors.ipynb", "vectorised.ipynb")


def test_independent_correct_styles_score_low(report):
    _, pairs = report
    styles = [p for p in pairs if "disguised_copy.ipynb" not in p[:2] and "starter_only.ipynb" not in p[:2]]
    assert len(styles) == len(students.CORRECT) * (len(students.CORRECT) - 1) // 2
    (independent,) = [p for p in styles if set(p[:2]) == set(INDEPENDENT)]
    assert score(independent) < 0.5, f"two independent styles share {score(independent):.0%}"
    assert styles.index(independent) >= len(styles) - 5, "they rank among the least similar pairs"
    closest = max(styles, key=score)
    assert score(closest) < score(pairs[0]) - 0.2, (
        f"the copy stands out from every pair of styles, {closest[:2]} included"
    )
    assert score(independent) < score(pairs[0]) - 0.5


def test_the_starter_code_alone_scores_near_zero(report):
    _, pairs = report
    starter = [p for p in pairs if "starter_only.ipynb" in p[:2]]
    assert starter and max(max(p[2], p[3]) for p in starter) < 0.05, starter


def test_the_report_quotes_no_student_markup(fresh_release, tmp_path):
    # a submission's code and name are data: they reach the page escaped
    student = fresh_release / "student" / NB
    folder = tmp_path / "class"
    folder.mkdir()
    for k in range(2):
        nb = students.build_correct(COPIED, student)
        nb.cells.append(nbformat.v4.new_code_cell('print("<script>alert(1)</script>")'))
        nbformat.write(nb, folder / f"<img src=x onerror=alert({k})>.ipynb")
    path, pairs = similarity.similarity_report(folder, tmp_path, starter=student)
    page = path.read_text()
    assert "<script>" not in page and "<img" not in page
    assert "&lt;img src=x onerror=alert(0)&gt;.ipynb" in page and "&lt;script&gt;" in page


# --- disguises: the code that runs is compared ------------------------------------------------------------------


def _code_cells(nb, student):
    """The cells of ``nb`` that the student wrote (not the handout's), as (index, cell)."""
    handout = {c.source.strip() for c in nbformat.read(student, as_version=4).cells if c.cell_type == "code"}
    return [(k, c) for k, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip() not in handout]


def with_no_ops(nb, student):
    """A do-nothing statement after every statement, at every level: the copy's text doubles, its effect does not."""
    nb = nbformat.from_dict(nb)
    counter = iter(range(10**6))

    class Pad(ast.NodeTransformer):
        def generic_visit(self, node):
            super().generic_visit(node)
            for name in ("body", "orelse", "finalbody"):
                body = getattr(node, name, None)
                if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                    padded = []
                    for statement in body:
                        k = next(counter)
                        noop = [f"unused_{k} = {k}", "pass", "None", f"_ = {k} * 2"][k % 4]
                        padded += [statement, ast.parse(noop).body[0]]
                    setattr(node, name, padded)
            return node

    for _, cell in _code_cells(nb, student):
        try:
            cell.source = ast.unparse(ast.fix_missing_locations(Pad().visit(ast.parse(cell.source))))
        except SyntaxError:
            continue
    return nb


def run_from_compressed_strings(nb, student):
    """Every cell of the student's runs from a compressed, base64-encoded string."""
    import base64
    import zlib

    nb = nbformat.from_dict(nb)
    for _, cell in _code_cells(nb, student):
        blob = base64.b64encode(zlib.compress(cell.source.encode())).decode()
        cell.source = f"import base64 as _b, zlib as _z\nexec(_z.decompress(_b.b64decode({blob!r})).decode())"
    return nb


MARKDOWN_RUNNER = """import json, glob
_cells = json.load(open(glob.glob("*.ipynb")[0]))["cells"]
for _cell in _cells:
    if _cell["cell_type"] == "markdown" and "".join(_cell["source"]).startswith("```python"):
        exec("".join(_cell["source"]).split("```python", 1)[1].rsplit("```", 1)[0])"""


def kept_in_markdown(nb, student):
    """The student's code moved into Markdown cells, run from there by one code cell that reads the notebook."""
    nb = nbformat.from_dict(nb)
    for k, cell in _code_cells(nb, student):
        nb.cells[k] = nbformat.v4.new_markdown_cell(f"```python\n{cell.source}\n```")
    nb.cells.append(nbformat.v4.new_code_cell(MARKDOWN_RUNNER))
    return nb


def reordered_and_resplit(nb, student):
    """The student's cells split at every blank line and joined back two by two, reformatted (comments dropped)."""
    nb = nbformat.from_dict(nb)
    for _, cell in _code_cells(nb, student):
        try:
            cell.source = ast.unparse(ast.parse(cell.source)).replace("\n\n", "\n\n\n")
        except SyntaxError:
            continue
    return nb


DISGUISES = {
    "renamed": lambda nb, student: renamed(nb),
    "no_ops": with_no_ops,
    "compressed_strings": run_from_compressed_strings,
    "markdown": kept_in_markdown,
    "reformatted": reordered_and_resplit,
}


@pytest.fixture(scope="module")
def disguised_class(fresh_release, tmp_path_factory):
    """The original, each disguise of it, and the corpus's other correct styles (independent of it)."""
    folder = tmp_path_factory.mktemp("disguised-class")
    student = fresh_release / "student" / NB
    original = students.build_correct(COPIED, student)
    nbformat.write(original, folder / "original.ipynb")
    for name, disguise in DISGUISES.items():
        nbformat.write(disguise(original, student), folder / f"copy_{name}.ipynb")
    for name in students.CORRECT:
        if name != COPIED:
            nbformat.write(students.build_correct(name, student), folder / f"{name}.ipynb")
    out = tmp_path_factory.mktemp("disguised-similarity")
    path, pairs = similarity.similarity_report(folder, out, starter=student)
    return path, pairs


def test_a_disguised_copy_pairs_with_its_original_above_every_independent_pair(disguised_class):
    path, pairs = disguised_class
    independent = [
        p for p in pairs if not ({p[0], p[1]} & ({"original.ipynb"} | {f"copy_{d}.ipynb" for d in DISGUISES}))
    ]
    highest_independent = max(score(p) for p in independent)
    for name in DISGUISES:
        (pair,) = [p for p in pairs if {p[0], p[1]} == {"original.ipynb", f"copy_{name}.ipynb"}]
        assert score(pair) > highest_independent, (name, score(pair), highest_independent)
        assert score(pair) > 0.8, (name, score(pair))


def test_the_report_flags_the_copy_that_runs_hidden_code(disguised_class):
    path, _ = disguised_class
    flags = path.read_text().split("<h2>Uploads to look at", 1)[1].split("<h2>", 1)[0]
    assert "copy_markdown.ipynb: <b>runs hidden code</b>" in flags, flags
    assert "copy_compressed_strings.ipynb: runs code from strings" in flags, flags
    assert "copy_markdown.ipynb" in flags and "holds code in Markdown" in flags
    assert "original.ipynb" not in flags and "loops.ipynb" not in flags  # honest ones are not flagged
    assert "a reason to look, never a verdict" in path.read_text()


def test_one_huge_upload_costs_seconds_and_a_bounded_page(fresh_release, tmp_path):
    import time

    student = fresh_release / "student" / NB
    folder = tmp_path / "class"
    folder.mkdir()
    for name in list(students.CORRECT)[:7]:
        nbformat.write(students.build_correct(name, student), folder / f"{name}.ipynb")
    huge = students.build_correct(COPIED, student)
    line = "x = [" + ", ".join(str(k) for k in range(200)) + "]\n"
    huge.cells.append(nbformat.v4.new_code_cell(line * (49 * 2**20 // len(line))))  # 49 MB of code in one cell
    nbformat.write(huge, folder / "huge.ipynb")
    assert (folder / "huge.ipynb").stat().st_size > 45 * 2**20
    (tmp_path / "out").mkdir()
    started = time.monotonic()
    path, pairs = similarity.similarity_report(folder, tmp_path / "out", starter=student)
    seconds = time.monotonic() - started
    assert seconds < 60, seconds
    assert path.stat().st_size < 20 * 2**20, path.stat().st_size
    assert "huge.ipynb: <b>too large to compare in full</b>" in path.read_text()
    assert len(pairs) == 8 * 7 // 2
