"""The code-similarity report (tools/similarity.py) on real submissions built from the student release."""

import ast
import io
import re
import tokenize

import nbformat
import pytest
import student_corpus

from tools import build_release, similarity

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
    for name in student_corpus.CORRECT:
        nbformat.write(student_corpus.build_correct(name, student), folder / f"{name}.ipynb")
    nbformat.write(nbformat.read(student, as_version=4), folder / "starter_only.ipynb")
    copy = renamed(student_corpus.build_correct(COPIED, student))
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
    assert len(styles) == len(student_corpus.CORRECT) * (len(student_corpus.CORRECT) - 1) // 2
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
        nb = student_corpus.build_correct(COPIED, student)
        nb.cells.append(nbformat.v4.new_code_cell('print("<script>alert(1)</script>")'))
        nbformat.write(nb, folder / f"<img src=x onerror=alert({k})>.ipynb")
    path, pairs = similarity.similarity_report(folder, tmp_path, starter=student)
    page = path.read_text()
    assert "<script>" not in page and "<img" not in page
    assert "&lt;img src=x onerror=alert(0)&gt;.ipynb" in page and "&lt;script&gt;" in page
