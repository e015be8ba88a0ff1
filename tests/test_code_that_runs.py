"""tools/report/code_that_runs.py in-process: what the similarity report compares, for each way a copy hides its code."""

import base64
import codecs
import zlib

import nbformat

from tools.report import code_that_runs

FUNCTION = "def area(width, height):\n    product = width * height\n    return product\n"


def normalised(*cells, limit=None):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    return code_that_runs.normalise(nb, limit=limit)


def code(source):
    return nbformat.v4.new_code_cell(source)


def test_code_run_from_decoded_strings_is_written_out():
    blob = base64.b64encode(zlib.compress(FUNCTION.encode())).decode()
    rot = codecs.encode(FUNCTION, "rot13")
    found = normalised(
        code(f"import zlib, base64 as b\nPAYLOAD = {blob!r}\nexec(zlib.decompress(b.b64decode(PAYLOAD)))"),
        code(f"import codecs, builtins\ngetattr(builtins, 'exec')(codecs.decode({rot!r}, 'rot13'))"),
        code(f"exec({FUNCTION[::-1]!r}[::-1])"),
    )
    assert found.decoded == 3 and not found.hidden, found
    assert found.code.count("product = width * height") == 3, found.code


def test_code_in_markdown_is_compared_and_an_undecodable_exec_is_flagged():
    found = normalised(
        nbformat.v4.new_markdown_cell(f"Some prose.\n\n```python\n{FUNCTION}```"),
        nbformat.v4.new_markdown_cell("Just words, and a name: area"),
        code("import json\nexec(json.load(open('hw1.ipynb'))['cells'][0]['source'])"),
    )
    assert found.markdown == 1 and "product = width * height" in found.code
    assert found.runs_hidden_code and "exec(json.load" in found.hidden[0]


def test_statements_that_do_nothing_are_dropped():
    padded = (
        "def area(width, height):\n    'a docstring'\n    pass\n    unused = 3\n    width = width\n"
        "    product = width * height\n    if False:\n        print('never')\n    None\n    return product\n"
    )
    assert normalised(code(padded)).code == normalised(code(FUNCTION)).code


def test_decoding_is_bounded_by_the_uploads_budget():
    # many small literals that each decompress to nearly the whole budget: decoding stops at the budget (256 KB
    # here, so that the test takes under a second; the real budget, MAX_DECODED, is larger)
    limit = 1 << 18
    bomb = zlib.compress(b"x = 1\n" * 40_000)
    source = "import zlib\n" + "\n".join(f"exec(zlib.decompress({bomb!r}))" for _ in range(50))
    found = normalised(code(source), limit=limit)
    assert found.truncated and found.decoded <= 1, (found.truncated, found.decoded)
    assert len(found.code) <= limit
    one = zlib.compress(b"y = 2\n" * 10)  # a small one, under the budget, is decoded
    assert normalised(code(f"import zlib\nexec(zlib.decompress({one!r}))"), limit=limit).decoded == 1
