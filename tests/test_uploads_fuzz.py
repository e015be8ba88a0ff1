"""Damaged uploads: every one is either graded as a notebook or refused with one sentence, never a crash.

In-process, ``uploads.normalise`` meets real damaged files (zips cut short, with a bad CRC, an
encrypted or bomb member, nested, with many members; notebooks that are not JSON, of another
nbformat, with cells that are not cells; text in UTF-16, latin-1, with a BOM or NUL bytes). Two of
them also go through the built zip's route, which must write results.json with the sentence.
"""

import codecs
import io
import json
import struct
import zipfile
import zlib

import nbformat
import pytest

from tests.helpers import trusted_copy

uploads = trusted_copy.module("uploads")
route = trusted_copy.module("route")
verdict = trusted_copy.module("verdict")


def notebook_bytes(*sources, encoding="utf-8"):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    return json.dumps(nb).encode(encoding)


GOOD = notebook_bytes("x = 1", "print(x)")


def zip_of(members, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, data in members:
            z.writestr(name, data)
    return buffer.getvalue()


def patch_headers(data, name, **fields):
    """The zip with one member's local and central headers changed: flag bits, compression, sizes."""
    data = bytearray(data)
    encoded = name.encode()
    # local header: sig(4) version(2) flags(2) method(2) time(2) date(2) crc(4) csize(4) usize(4) nlen(2) xlen(2)
    local = data.find(b"PK\x03\x04")
    while local >= 0:
        nlen = struct.unpack_from("<H", data, local + 26)[0]
        if bytes(data[local + 30 : local + 30 + nlen]) == encoded:
            break
        local = data.find(b"PK\x03\x04", local + 4)
    # central header: sig(4) made(2) version(2) flags(2) method(2) time(2) date(2) crc(4) csize(4) usize(4) nlen(2)...
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        nlen = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + nlen]) == encoded:
            break
        central = data.find(b"PK\x01\x02", central + 4)
    assert local >= 0 and central >= 0, name
    for key, (local_at, central_at, fmt) in {
        "flags": (6, 8, "<H"),
        "method": (8, 10, "<H"),
        "crc": (14, 16, "<I"),
        "usize": (22, 24, "<I"),
    }.items():
        if key in fields:
            if key == "flags":
                value = struct.unpack_from(fmt, data, local + local_at)[0] | fields[key]
            else:
                value = fields[key]
            struct.pack_into(fmt, data, local + local_at, value)
            struct.pack_into(fmt, data, central + central_at, value)
    return bytes(data)


def bad_crc():
    data = zip_of([("hw1.ipynb", GOOD)], zipfile.ZIP_STORED)
    at = data.find(b'"cells"')  # one byte of the stored notebook changes; the CRC no longer fits
    return data[:at] + b"'" + data[at + 1 :]


def bomb(declared=None):
    """A deflated notebook of 80 MB of spaces (a few kB packed); ``declared`` lies about its size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5' + b" " * (80 * 2**20) + b"}"
    packed = packer.compress(raw) + packer.flush()
    info = zipfile.ZipInfo("hw1.ipynb")
    info.compress_type = zipfile.ZIP_DEFLATED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(info, raw)
    data = buffer.getvalue()
    assert len(data) < 2**20 and len(packed) < 2**20
    return data if declared is None else patch_headers(data, "hw1.ipynb", usize=declared)


def many_members(with_notebook):
    members = [(f"part/{i}.txt", b"x") for i in range(20000)]
    if with_notebook:
        members.append(("hw1.ipynb", GOOD))
    return zip_of(members, zipfile.ZIP_STORED)


def nested():
    inner = zip_of([("hw1.ipynb", GOOD)])
    return zip_of([("inner.zip", inner), ("inner2.zip", zip_of([("deeper.zip", inner)]))])


DAMAGED = {  # file name: bytes; each must be refused with one sentence
    "truncated.zip": zip_of([("hw1.ipynb", GOOD)])[:200],
    "truncated_end.zip": zip_of([("hw1.ipynb", GOOD)])[:-30],
    "bad_crc.zip": bad_crc(),
    "encrypted.zip": patch_headers(zip_of([("hw1.ipynb", GOOD)]), "hw1.ipynb", flags=0x1),
    "unknown_compression.zip": patch_headers(zip_of([("hw1.ipynb", GOOD)]), "hw1.ipynb", method=99),
    "bomb.zip": bomb(),
    "bomb_declared_small.zip": bomb(declared=len(GOOD)),
    "nested.zip": nested(),
    "many_members.zip": many_members(False),
    "two_notebooks.zip": zip_of([("a.ipynb", GOOD), ("b/hw1.ipynb", GOOD)]),
    "damaged_notebook.zip": zip_of([("hw1.ipynb", b"\xff\xfe\x00garbage")]),
    "invalid_json.ipynb": b'{"cells": [',
    "json_array.ipynb": b"[1, 2, 3]",
    "nbformat_99.ipynb": json.dumps({"cells": [], "metadata": {}, "nbformat": 99, "nbformat_minor": 0}).encode(),
    "nbformat_2.ipynb": json.dumps({"worksheets": [], "metadata": {}, "nbformat": 2, "nbformat_minor": 0}).encode(),
    "cells_not_dicts.ipynb": json.dumps(
        {"cells": [1, "x = 1", None, []], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    ).encode(),
    "cell_source_int.ipynb": json.dumps(
        {
            "cells": [{"cell_type": "code", "source": 5, "metadata": {}, "outputs": [], "execution_count": None}],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 4,
        }
    ).encode(),
    "cells_not_list.ipynb": json.dumps(
        {"cells": {"a": 1}, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    ).encode(),
    "no_code.ipynb": json.dumps(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi")])).encode(),
    "binary.ipynb": bytes(range(256)) * 64,
    "utf16_no_bom.ipynb": GOOD.decode().encode("utf-16-le"),
    "latin1.ipynb": notebook_bytes("s = 'café'").decode().replace("\\u00e9", "\u00e9").encode("latin-1"),
    "nul_bytes.ipynb": GOOD.replace(b'"x = 1"', b'"x = \x00 1"'),
    "empty.ipynb": b"",
    "spaces.ipynb": b"   \n\t ",
    "notes.txt": b"my answers are in the notebook",
}

ACCEPTED = {  # file name: bytes; each is a notebook the route can run
    "utf8_bom.ipynb": codecs.BOM_UTF8 + GOOD,
    "utf16_bom.ipynb": codecs.BOM_UTF16_LE + GOOD.decode().encode("utf-16-le"),
    "utf32_bom.ipynb": GOOD.decode().encode("utf-32"),
    "huge_cell.ipynb": notebook_bytes("x = 1", "# " + "a" * (8 * 2**20)),
    "many_members_and_a_notebook.zip": many_members(True),
    "otter_metadata_not_a_dict.ipynb": json.dumps({**json.loads(GOOD), "metadata": {"otter": "x"}}).encode(),
    "export.py": b"# In[1]:\nx = 1\n# In[2]:\nprint(x)\x00\n",
    "binary.py": bytes(range(1, 256)),
}


def upload(tmp_path, name, data):
    folder = tmp_path / f"submission{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_a_damaged_upload_is_refused_with_one_sentence(tmp_path, name):
    with pytest.raises(uploads.BadUpload) as refused:
        uploads.normalise(upload(tmp_path, name, DAMAGED[name]))
    shown = verdict.render(str(refused.value))
    assert "\n" not in shown and shown.endswith((uploads.WHAT_TO_UPLOAD, "upload it again."))
    assert not any(ch in shown for ch in "\ue000\ue001")


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_an_unusual_but_whole_upload_is_a_notebook_the_route_can_run(tmp_path, name):
    nb = uploads.normalise(upload(tmp_path, name, ACCEPTED[name]))
    nbformat.validate(nb)
    assert nb.metadata["otter"]["assignment_name"] == "hw1"
    json.loads(uploads.to_json(nb))
    assert any(cell.cell_type == "code" for cell in nb.cells)


def test_file_names_are_quoted_as_the_students_never_as_the_graders(tmp_path):
    name = "x\nNOTE FROM COURSE STAFF: 73\u221573\u2028passed (2 of 2): all.ipynb"
    with pytest.raises(uploads.BadUpload) as refused:
        uploads.normalise(upload(tmp_path, name, b"not json"))
    shown = verdict.render(str(refused.value))
    assert "\n" not in shown and "\u2028" not in shown
    assert '"x NOTE FROM COURSE STAFF: 73\u221573 passed (2 of 2): all.ipynb" (quoted from your submission)' in shown
    inner = zip_of([("evil\n\u2029name.ipynb", b"{")])
    with pytest.raises(uploads.BadUpload) as refused:
        uploads.normalise(upload(tmp_path, "hw1.zip", inner))
    assert '"evil name.ipynb" (quoted from your submission)' in verdict.render(str(refused.value))


def test_bombs_and_many_members_are_refused_quickly(tmp_path):
    import time

    clock = time.monotonic()
    for name in ("bomb.zip", "bomb_declared_small.zip", "many_members.zip"):
        with pytest.raises(uploads.BadUpload):
            uploads.normalise(upload(tmp_path, name, DAMAGED[name]))
    assert time.monotonic() - clock < 20


# --- through the route: results.json with the sentence ------------------------------------------


@pytest.mark.route
@pytest.mark.parametrize("name", ["bad_crc.zip", "encrypted.zip"])
def test_the_route_writes_the_refusal_for_a_damaged_zip(fresh_zip, tmp_path, name):
    from tools.grade import gradescope

    path = tmp_path / name
    path.write_bytes(DAMAGED[name])
    result = gradescope.run_as_gradescope(path, tmp_path / "graded", fresh_zip, user="hw1fuzz")
    assert result.total == 0 and result.tests
    expected = {
        "bad_crc.zip": "could not be unpacked (the zip file is damaged)",
        "encrypted.zip": "is encrypted (password-protected)",
    }[name]
    for question, test in result.tests.items():
        assert f'not graded: the notebook in "{name}" (quoted from your submission) {expected}' in test["output"], (
            question
        )
    assert expected in result.visible
