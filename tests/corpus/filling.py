"""One engine that fills the student notebook's answer cells, for every corpus of the suite.

The graded corpus (tests/students.py: correct styles and mutants), the self-check runs and the cheat
corpus (tests/corpus/cheats.py) all build their submissions here: ``fill(student_nb, answers)`` puts each answer into
the placeholder cell its key names. A key is a name that the cell defines (``def NAME``, ``class NAME`` or an
assigned ``NAME``, e.g. ``"grad_f"``, ``"train_epoch"``, ``"sample_idx"``), or ``"@4(d)"`` for the first
placeholder cell after the Markdown cell with a line that starts with ``**4(d)`` (for cells that hold nothing
but ``...``). A value is either

- a ``str``: the cell's full new source. Every line of the original cell that holds no placeholder must still be
  in it (so that a provided line is never lost silently); ``Rewrite(str)`` skips that check;
- ``Slots(fill_1, fill_2, ..., edits=[(old, new)])``: the cell as it is, with each placeholder ``...`` replaced,
  in reading order, by a piece of code (a statement placeholder takes an indented block, an inline one an
  expression), after exact edits of provided lines;
- any callable ``source -> new source`` (e.g. ``Edit(old, new)``).

Errors (``FillError``): a key that matches no placeholder cell or several, two keys for one cell, a provided
line lost, a filled cell that still holds a placeholder, and (by default) a placeholder cell left unfilled.

The points of each autograded question are read here too, from the master notebook (``autograded_points``).
"""

from __future__ import annotations

import ast
import copy
import textwrap
from collections.abc import Callable

# ----------------------------------------------------------------------------------------------------
# Placeholders and cell keys
# ----------------------------------------------------------------------------------------------------


class FillError(ValueError):
    """A submission cannot be built from the current student notebook."""


class Rewrite(str):
    """A full new cell source that may drop or change provided lines (no kept-lines check)."""


def _parse(source, what="cell"):
    try:
        return ast.parse(source)
    except SyntaxError as error:
        raise FillError(f"{what} does not parse as Python: {error}\n{source}") from None


def placeholders(source):
    """The placeholder ``...`` nodes of a cell, in reading order (Ellipsis inside a subscript, x[..., 0], is not one)."""
    tree = _parse(source)
    in_subscript = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            in_subscript.update(id(n) for n in ast.walk(node.slice))
    nodes = [
        n for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value is Ellipsis and id(n) not in in_subscript
    ]
    statements = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    return sorted((n.lineno, n.col_offset, n.end_col_offset, id(n) in statements) for n in nodes)


def defined_names(source):
    """Top-level names a cell defines: functions, classes and assigned variables."""
    names = []
    for node in _parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        names.append(sub.id)
    return names


def placeholder_cells(nb):
    """Indices of the code cells that hold a placeholder."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and placeholders(cell.source)]


def find_cell(nb, key):
    """Index of the one placeholder cell that ``key`` names (see the module docstring)."""
    candidates = placeholder_cells(nb)
    if key.startswith("@"):
        label = "**" + key[1:]
        hits = []
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown" and any(l.lstrip().startswith(label) for l in cell.source.splitlines()):
                after = [j for j in candidates if j > i]
                nxt = [j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code"]
                if after and nxt and after[0] == nxt[0]:
                    hits.append(after[0])
    else:
        hits = [i for i in candidates if key in defined_names(nb.cells[i].source)]
    if len(hits) != 1:
        where = ", ".join(f"cell {i}: {nb.cells[i].source.splitlines()[0]!r}" for i in hits) or "none"
        raise FillError(
            f"answer key {key!r} must name exactly one placeholder cell of the student notebook; "
            f"it names {len(hits)} ({where})"
        )
    return hits[0]


def _splice(source, line, start, end, text):
    lines = source.split("\n")
    raw = lines[line - 1].encode("utf-8")  # ast offsets are UTF-8 byte offsets
    lines[line - 1] = (raw[:start] + text.encode("utf-8") + raw[end:]).decode("utf-8")
    return "\n".join(lines)


def _exact_edit(source, old, new, what):
    count = source.count(old)
    if count != 1:
        raise FillError(f"{what}: the text to edit occurs {count} times, expected once: {old!r}\nin:\n{source}")
    return source.replace(old, new)


class Slots:
    """Replace the cell's placeholders, in reading order, by pieces of code (after exact edits of provided lines)."""

    def __init__(self, *fills, edits=()):
        self.fills = [textwrap.dedent(f).strip("\n") for f in fills]
        self.edits = list(edits)

    def __call__(self, source):
        for old, new in self.edits:
            source = _exact_edit(source, old, new, "Slots edit")
        spots = placeholders(source)
        if len(spots) != len(self.fills):
            raise FillError(f"the cell has {len(spots)} placeholders but {len(self.fills)} fills were given:\n{source}")
        for (line, start, end, statement), fill in sorted(zip(spots, self.fills), reverse=True):
            if statement:
                indent = " " * start
                block = "\n".join((indent + l) if l.strip() else "" for l in fill.split("\n"))
                lines = source.split("\n")
                lines[line - 1] = block
                source = "\n".join(lines)
            else:
                source = _splice(source, line, start, end, fill)
        return source

    def __repr__(self):
        return f"Slots({len(self.fills)} fills, {len(self.edits)} edits)"


class Edit:
    """Exact ``(old, new)`` edits, each of which must occur exactly once."""

    def __init__(self, *pairs):
        if len(pairs) == 2 and all(isinstance(p, str) for p in pairs):
            pairs = (tuple(pairs),)
        self.pairs = [tuple(p) for p in pairs]

    def __call__(self, source):
        for old, new in self.pairs:
            source = _exact_edit(source, old, new, "Edit")
        return source

    def __repr__(self):
        return f"Edit({self.pairs!r})"


class Then:
    """``override`` applied to what ``base`` makes of the cell."""

    def __init__(self, base, override):
        self.base, self.override = base, override

    def __call__(self, source):
        return self.override(_resolve(self.base, source, "base"))


Answer = str | Callable[[str], str]


def _kept_lines_check(original, new, key):
    new_lines = {l.strip() for l in new.split("\n")}
    spots = {line for line, *_ in placeholders(original)}
    missing = [
        l for n, l in enumerate(original.split("\n"), 1) if l.strip() and n not in spots and l.strip() not in new_lines
    ]
    if missing:
        raise FillError(
            f"answer {key!r} drops provided lines of the student cell (use Slots, or Rewrite to "
            f"change them on purpose): {missing}"
        )


def _resolve(value, original, key):
    if isinstance(value, Rewrite):
        return str(value)
    if isinstance(value, str):
        _kept_lines_check(original, value, key)
        return value
    if callable(value):
        return value(original)
    raise FillError(f"answer {key!r}: expected a str or a callable, got {type(value).__name__}")


def fill(student_nb, answers, complete=True, blanks=None):
    """A copy of ``student_nb`` with each answer put into the placeholder cell its key names.

    ``complete``: every placeholder cell must be filled. ``blanks``: the source for every cell that holds nothing
    but ``...`` (the plots) and that no key names (the cheats leave them ``pass``). Outputs of filled cells are
    cleared; every other cell (grader.check cells, provided cells, Markdown) is left exactly as it is.
    """
    nb = copy.deepcopy(student_nb)
    filled = {}
    for key, value in answers.items():
        index = find_cell(student_nb, key)
        if index in filled:
            raise FillError(f"keys {filled[index]!r} and {key!r} both name cell {index}")
        filled[index] = key
        new = _resolve(value, student_nb.cells[index].source, key)
        if not isinstance(new, str):
            raise FillError(f"answer {key!r} did not make a str")
        left = placeholders(new)
        if left:
            raise FillError(f"answer {key!r} still holds {len(left)} placeholder(s) `...`:\n{new}")
        cell = nb.cells[index]
        cell.source = new
        cell.outputs, cell.execution_count = [], None
    if blanks is not None:
        for index in placeholder_cells(student_nb):
            if index not in filled and student_nb.cells[index].source.strip() == "...":
                filled[index] = "blanks"
                nb.cells[index].source = blanks
                nb.cells[index].outputs, nb.cells[index].execution_count = [], None
    if complete:
        missing = [i for i in placeholder_cells(student_nb) if i not in filled]
        if missing:
            firsts = [student_nb.cells[i].source.splitlines()[0] for i in missing]
            raise FillError(f"placeholder cells left unfilled: {list(zip(missing, firsts))}")
    return nb


def autograded_points():
    """{question: points} of the autograded questions, in notebook order, from the master notebook's question
    settings (where points are written once)."""
    return {q["name"]: q["points"] for q in master_notebook().questions() if not q["manual"]}


def master_notebook():
    """tools/build/master_notebook.py: the one place the corpora import it from."""
    from tools.build import master_notebook

    return master_notebook
