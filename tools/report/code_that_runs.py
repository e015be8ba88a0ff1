"""The code a notebook runs, normalised for comparison: what the similarity report fingerprints.

A copy can hide from a text comparison in three simple ways, and each is undone here, without running anything:

* **code run from strings**: ``exec``, ``eval``, ``compile`` and IPython's ``run_cell`` of literals, also of
  literals that are decoded or decompressed first (base64, hex, zlib, gzip, bz2, lzma, rot13, reversed or joined
  strings), and of names bound once to such literals. The literal is decoded by a small evaluator that knows only
  those pure functions (every result bounded in size), and the code it holds is compared as if it were written out.
  A call that runs code which cannot be decoded this way is a finding: "runs hidden code";
* **code kept in Markdown or raw cells** (and run from there): every such cell, or fenced block, that parses as
  Python with real statements is compared too;
* **statements that do nothing**: ``pass``, bare names and constants (docstrings included), ``x = x``, branches
  under a constant false test, and stores of side-effect-free values to names that nothing reads.

Each cell is then written back in one canonical form (``ast.unparse``: no comments, one layout). Cells that do not
parse (magics, syntax errors) are kept as they are.
"""

import ast
import base64
import binascii
import bz2
import codecs
import lzma
import re
import zlib
from dataclasses import dataclass, field

MAX_DECODED = 1 << 20  # bytes that one decoded literal may hold: a decompression bomb decodes to nothing
RUNS_CODE = {"exec", "eval", "compile", "run_cell", "run_code", "ex", "ev", "safe_execfile"}
FENCED = re.compile(r"```(?:python|py|ipython)?\s*\n(.*?)```", re.S)


def _bounded_decompress(make, data):
    decompressor = make()
    out = decompressor.decompress(data, MAX_DECODED + 1)
    if len(out) > MAX_DECODED:
        raise ValueError("too large")
    return out


def _zlib(data, *args):
    d = zlib.decompressobj(*(a for a in args if isinstance(a, int)))
    out = d.decompress(data, MAX_DECODED + 1)
    if len(out) > MAX_DECODED:
        raise ValueError("too large")
    return out


def _codecs_decode(data, encoding="utf-8", *_):
    encoding = str(encoding).lower().replace("-", "_")
    if encoding in ("rot13", "rot_13"):
        return codecs.decode(data, "rot13")
    if encoding in ("base64", "base_64"):
        return base64.b64decode(data)
    if encoding in ("hex", "hex_codec"):
        return binascii.unhexlify(data)
    if encoding in ("zlib", "zlib_codec", "zip"):
        return _zlib(data)
    if encoding in ("bz2", "bz2_codec"):
        return _bounded_decompress(bz2.BZ2Decompressor, data)
    return data.decode(encoding) if isinstance(data, bytes) else data


# module.function -> a pure function of literals (every one bounded)
DECODERS = {
    "base64.b64decode": lambda d, *a: base64.b64decode(d),
    "base64.standard_b64decode": lambda d, *a: base64.standard_b64decode(d),
    "base64.urlsafe_b64decode": lambda d, *a: base64.urlsafe_b64decode(d),
    "base64.b32decode": lambda d, *a: base64.b32decode(d),
    "base64.b16decode": lambda d, *a: base64.b16decode(d),
    "base64.b85decode": lambda d, *a: base64.b85decode(d),
    "base64.a85decode": lambda d, *a: base64.a85decode(d),
    "base64.decodebytes": lambda d, *a: base64.decodebytes(d),
    "binascii.unhexlify": lambda d, *a: binascii.unhexlify(d),
    "binascii.a2b_hex": lambda d, *a: binascii.a2b_hex(d),
    "binascii.a2b_base64": lambda d, *a: binascii.a2b_base64(d),
    "zlib.decompress": _zlib,
    "gzip.decompress": lambda d, *a: _bounded_decompress(lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), d),  # zlib's
    "bz2.decompress": lambda d, *a: _bounded_decompress(bz2.BZ2Decompressor, d),
    "lzma.decompress": lambda d, *a: _bounded_decompress(lzma.LZMADecompressor, d),
    "codecs.decode": _codecs_decode,
    "bytes.fromhex": lambda d, *a: bytes.fromhex(d),
}


@dataclass
class Found:
    """What normalising one notebook found: the code to compare, and whether it runs code that stays hidden."""

    code: str = ""
    decoded: int = 0  # code run from decoded or literal strings, now written out
    markdown: int = 0  # Markdown or raw cells (or fenced blocks) holding code
    hidden: list = field(default_factory=list)  # calls that run code which could not be decoded (a few lines)
    truncated: bool = False
    budget: int = MAX_DECODED  # characters of decoded code still allowed: one upload's decoding stays bounded

    @property
    def runs_hidden_code(self):
        return bool(self.hidden)


class _Literals:
    """A tiny evaluator of literal expressions: strings, bytes, their concatenation, slicing, joining, .encode and
    .decode, and the DECODERS above, through the notebook's own import names. Anything else: not a literal."""

    def __init__(self, aliases, bound):
        self.aliases, self.bound = aliases, bound  # {local name: "module" or "module.function"}, {name: node}

    def qualified(self, node):
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def value(self, node, depth=0):
        if depth > 40:
            raise ValueError("nested too deeply")
        v = lambda n: self.value(n, depth + 1)  # noqa: E731
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            return node.value
        if isinstance(node, ast.Name) and node.id in self.bound:
            return v(self.bound[node.id])
        if isinstance(node, ast.JoinedStr) and all(isinstance(p, ast.Constant) for p in node.values):
            return "".join(str(p.value) for p in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            out = v(node.left) + v(node.right)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            s = node.slice
            bounds = [None if b is None else ast.literal_eval(b) for b in (s.lower, s.upper, s.step)]
            out = v(node.value)[slice(*bounds)]
        elif isinstance(node, ast.Call):
            args = [
                v(a) if not (isinstance(a, ast.Constant) and isinstance(a.value, int)) else a.value for a in node.args
            ]
            func = node.func
            target = None
            if isinstance(func, ast.Attribute) and func.attr in ("decode", "encode"):
                try:  # a literal's own method; else, below, a module's function of that name (codecs.decode)
                    target = v(func.value)
                except ValueError:
                    target = None
            if target is not None:
                encoding = [a for a in args if isinstance(a, str)][:1]
                if encoding and encoding[0].lower().replace("-", "_") not in ("utf_8", "utf8", "ascii", "latin_1"):
                    raise ValueError("not a plain encoding")
                out = getattr(target, func.attr)(*encoding)
            elif isinstance(func, ast.Attribute) and func.attr == "join" and len(node.args) == 1:
                parts = node.args[0]
                if not isinstance(parts, (ast.List, ast.Tuple)):
                    raise ValueError("not a literal")
                out = v(func.value).join(v(p) for p in parts.elts)
            else:
                name = self.qualified(func)
                if name not in DECODERS:
                    raise ValueError("not a decoder")
                out = DECODERS[name](*args)
        else:
            raise ValueError("not a literal")
        if len(out) > MAX_DECODED:
            raise ValueError("too large")
        return out


def _aliases(trees):
    """{local name: what it names} from the notebook's imports (``import zlib as z``, ``from base64 import ...``)."""
    found = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    found[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    found[a.asname or a.name] = f"{node.module}.{a.name}"
    return found


def _bound_once(trees):
    """{name: value node} for names assigned exactly once in the notebook, to a single name target."""
    counts, values = {}, {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                counts[name] = counts.get(name, 0) + 1
                values[name] = node.value
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Name):
                counts[node.target.id] = counts.get(node.target.id, 0) + 2
    return {n: values[n] for n, c in counts.items() if c == 1}


def _runs_code(call):
    """Whether the call runs code it is given: exec(...), builtins.exec(...), get_ipython().run_cell(...), and
    getattr(builtins, "exec")(...)."""
    func = call.func
    if isinstance(func, ast.Call) and isinstance(func.func, ast.Name) and func.func.id == "getattr":
        names = func.args[1:2]
        return bool(names) and isinstance(names[0], ast.Constant) and names[0].value in RUNS_CODE
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name in RUNS_CODE


def _executed(trees, literals, found, depth):
    """The code that the notebook's exec-like calls run, decoded; the calls whose code stays hidden, in found."""
    sources = []
    for tree in trees:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            if not _runs_code(node):
                continue
            if found.budget <= 0:  # decoded code beyond the upload's budget is not compared (small bombs add up)
                found.truncated = True
                break
            try:
                text = literals.value(node.args[0])
                text = text.decode("utf-8") if isinstance(text, bytes) else text
                if len(text) > found.budget:
                    found.truncated, found.budget = True, 0
                    continue
                found.budget -= len(text)
                ast.parse(text)
            except Exception:  # not a literal this evaluator can read, or not Python: hidden
                found.hidden.append(ast.unparse(node)[:120])
                continue
            found.decoded += 1
            sources.append(text)
    return [_normalised_source(s, found, depth + 1) for s in sources] if depth < 3 else sources


class _NoOps(ast.NodeTransformer):
    """Drops the statements that do nothing (see the module's docstring)."""

    def __init__(self, read):
        self.read = read  # every name the notebook loads anywhere

    def _pure(self, node):
        return all(
            isinstance(
                n,
                (
                    ast.Constant,
                    ast.Name,
                    ast.Load,
                    ast.BinOp,
                    ast.UnaryOp,
                    ast.Tuple,
                    ast.List,
                    ast.operator,
                    ast.unaryop,
                    ast.expr_context,
                ),
            )  # fmt: skip
            for n in ast.walk(node)
        )

    def _body(self, statements):
        kept = []
        for statement in statements:
            result = self.visit(statement)
            for s in result if isinstance(result, list) else [result] if result is not None else []:
                kept.append(s)
        return kept or [ast.Pass()]

    def generic_visit(self, node):
        for name in ("body", "orelse", "finalbody"):
            if (
                isinstance(getattr(node, name, None), list)
                and getattr(node, name)
                and isinstance(getattr(node, name)[0], ast.stmt)
            ):
                setattr(node, name, self._body(getattr(node, name)))
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.stmt):
                self.visit(child)
        return node

    def visit_Pass(self, node):
        return None

    def visit_Expr(self, node):
        return None if isinstance(node.value, (ast.Constant, ast.Name, ast.Attribute)) else self.generic_visit(node)

    def visit_Assign(self, node):
        targets = node.targets
        if len(targets) == 1 and isinstance(targets[0], ast.Name) and isinstance(node.value, ast.Name):
            if targets[0].id == node.value.id:
                return None  # x = x
        if all(isinstance(t, ast.Name) and t.id not in self.read for t in targets) and self._pure(node.value):
            return None  # a store that nothing reads, of a value without side effects
        return self.generic_visit(node)

    def visit_If(self, node):
        try:
            test = ast.literal_eval(node.test)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            return self.generic_visit(node)
        branch = node.body if test else node.orelse
        return self._body(branch) if branch else None

    def visit_While(self, node):
        try:
            if not ast.literal_eval(node.test):
                return None
        except (ValueError, TypeError, SyntaxError, RecursionError):
            pass
        return self.generic_visit(node)


def _read_names(trees):
    return {n.id for t in trees for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} | {
        n.attr for t in trees for n in ast.walk(t) if isinstance(n, ast.Attribute)
    }


def _normalised_source(source, found, depth=0):
    """One piece of code (a decoded literal), normalised: its no-ops dropped, in canonical form."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    extra = _executed([tree], _Literals(_aliases([tree]), _bound_once([tree])), found, depth)
    tree = ast.fix_missing_locations(_NoOps(_read_names([tree])).visit(tree))
    return "\n\n".join([ast.unparse(tree), *extra])


def _python_in(text):
    """The Python that a Markdown or raw cell holds (its fenced blocks, or the whole cell), or None: code with real
    statements, not prose that happens to parse."""
    for candidate in [*FENCED.findall(text), text]:
        try:
            tree = ast.parse(candidate)
        except (SyntaxError, ValueError):
            continue
        real = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, (ast.Constant, ast.Name)))]
        if len(real) >= 2 or any(isinstance(s, (ast.FunctionDef, ast.ClassDef)) for s in real):
            return candidate
    return None


def normalise(nb, handout=frozenset(), handout_text=frozenset(), limit=None):
    """Found: the code that ``nb`` runs, normalised, for fingerprinting. ``handout``: the student release's code
    cells (stripped), left out as they are; ``handout_text``: its Markdown and raw cells, never code of the
    student's; ``limit``: characters to keep (the rest is cut, and ``truncated`` says so)."""
    found = Found(budget=limit if limit is not None else MAX_DECODED)
    cells, budget = [], limit
    for cell in nb.cells:
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if budget is not None:  # the raw text is cut before anything parses it: one huge upload costs seconds
            if budget <= 0:
                found.truncated = True
                break
            if len(source) > budget:
                source, found.truncated = source[: source.rfind("\n", 0, budget) + 1], True
            budget -= len(source)
        if cell.cell_type == "code":
            if source.strip() in handout:
                continue
            lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
            if any(line.strip() for line in lines):
                cells.append("\n".join(lines))
        elif source.strip() not in handout_text:
            code = _python_in(source)
            if code is not None:
                found.markdown += 1
                cells.append(code)
    trees, kept = [], []
    for text in cells:
        try:
            trees.append(ast.parse(text))
        except (SyntaxError, ValueError, RecursionError):
            kept.append(text)  # magics, syntax errors: as written
    literals = _Literals(_aliases(trees), _bound_once(trees))
    executed = _executed(trees, literals, found, 0)
    read = _read_names(trees) | _read_names([t for t in (_safe_parse(s) for s in executed) if t is not None])
    for tree in trees:
        try:
            kept.append(ast.unparse(ast.fix_missing_locations(_NoOps(read).visit(tree))))
        except (RecursionError, ValueError):
            kept.append(ast.unparse(tree))
    code = "\n\n".join(kept + executed) + "\n"
    if limit is not None and len(code) > limit:
        code, found.truncated = code[:limit], True
    found.code = code
    return found


def _safe_parse(source):
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return None
