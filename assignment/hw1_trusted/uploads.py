"""What the student uploaded, turned into the one notebook that gets graded, or a clear refusal.

Accepted: a notebook under any name, Otter's export zip, a ``.py`` export, and notebooks
without Otter's metadata (cells pasted into a fresh Colab notebook).
"""

from __future__ import annotations

import codecs
import io
import json
import pathlib
import zipfile
from typing import Any

import nbformat

ASSIGNMENT = "hw1"
MAX_BYTES = 50 * 2**20
WHAT_TO_UPLOAD = (
    "Upload your hw1.ipynb (File > Download > .ipynb in Colab), or the zip that the notebook's last cell exports."
)


Notebook = Any  # an nbformat NotebookNode (nbformat has no type hints)


class BadUpload(Exception):
    """One sentence for the student on what went wrong and what to upload instead."""


def _ignored(name: str) -> bool:
    parts = pathlib.PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" or p == ".ipynb_checkpoints" for p in parts)


def _named(name: str) -> str:
    """A file name of the upload, the student's text: cleaned, bounded, marked for a labelled quote."""
    from .handover import student_text

    return student_text(name, 80)


def _decode(data: bytes) -> str:
    """The text of a notebook file: UTF-8 (with or without a BOM), or UTF-16/32 with their BOM."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(codec)
    return data.decode("utf-8-sig")


def _notebook(data: bytes, name: str) -> Notebook:
    if not data.strip():
        raise BadUpload(f"the file {_named(name)} is empty. {WHAT_TO_UPLOAD}")
    invalid = BadUpload(
        f"the file {_named(name)} is not a valid Jupyter notebook (it could not be read as one). {WHAT_TO_UPLOAD}"
    )
    try:
        text = _decode(data)
    except UnicodeError:
        raise BadUpload(
            f"the file {_named(name)} is not a Jupyter notebook: it is not UTF-8 text. {WHAT_TO_UPLOAD}"
        ) from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)  # reads only logs what is wrong: a cell that is not a cell must not reach the route
        code = any(cell.cell_type == "code" for cell in nb.cells)
    except Exception:
        raise invalid from None
    if not code:
        raise BadUpload(f"the file {_named(name)} has no code cells. {WHAT_TO_UPLOAD}")
    if not isinstance(nb.metadata.get("otter"), dict):
        nb.metadata["otter"] = {}
    nb.metadata["otter"]["assignment_name"] = ASSIGNMENT  # pasted into a fresh notebook: no metadata
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def _script(data: bytes, name: str) -> Notebook:
    """A .py export as a notebook: one code cell per ``# In[ ]:`` or ``# %%`` block."""
    text = data.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise BadUpload(f"the file {_named(name)} is empty. {WHAT_TO_UPLOAD}")
    cells: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("# In[") or line.startswith("# %%"):
            if "".join(current).strip():
                cells.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if "".join(current).strip():
        cells.append("\n".join(current))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["otter"] = {"assignment_name": ASSIGNMENT}
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def _from_zip(data: bytes, name: str) -> Notebook:
    broken = BadUpload(f"the file {_named(name)} is not a valid zip file. {WHAT_TO_UPLOAD}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir() and not _ignored(m.filename)]
    except Exception:  # BadZipFile, and whatever else a damaged central directory raises
        raise broken from None
    notebooks = [m for m in members if m.filename.endswith(".ipynb")]
    if len(notebooks) != 1:
        found = "no notebook" if not notebooks else f"{len(notebooks)} notebooks"
        raise BadUpload(f"the file {_named(name)} holds {found}; it must hold exactly one. {WHAT_TO_UPLOAD}")
    member = notebooks[0]
    if member.file_size > MAX_BYTES:
        raise BadUpload(
            f"the notebook in {_named(name)} is larger than {MAX_BYTES // 2**20} MB. Clear large outputs and upload it again."
        )
    if member.flag_bits & 0x1:
        raise BadUpload(f"the notebook in {_named(name)} is encrypted (password-protected). {WHAT_TO_UPLOAD}")
    try:
        with archive.open(member) as f:  # reads at most the size it declares, and checks the CRC at the end
            content = f.read(MAX_BYTES + 1)
    except Exception:  # bad CRC, unsupported compression, truncated data, a password...
        raise BadUpload(
            f"the notebook in {_named(name)} could not be unpacked (the zip file is damaged). {WHAT_TO_UPLOAD}"
        ) from None
    if len(content) > MAX_BYTES:
        raise BadUpload(
            f"the notebook in {_named(name)} is larger than {MAX_BYTES // 2**20} MB. Clear large outputs and upload it again."
        )
    return _notebook(content, member.filename)


def normalise(folder: str | pathlib.Path) -> Notebook:
    """The submission in ``folder`` as one notebook (nbformat node); raises BadUpload, and only that."""
    try:
        return _normalise(folder)
    except BadUpload:
        raise
    except Exception:  # whatever else reading the upload raises: a refusal, never a crash of the route
        raise BadUpload(f"the submission could not be read (a damaged or unusual file). {WHAT_TO_UPLOAD}") from None


def _normalise(folder: str | pathlib.Path) -> Notebook:
    files = [
        p
        for p in sorted(pathlib.Path(folder).rglob("*"))
        if p.is_file() and not p.is_symlink() and not _ignored(str(p.relative_to(folder)))
    ]
    if not files:
        raise BadUpload(f"the submission is empty. {WHAT_TO_UPLOAD}")
    by_kind = {kind: [p for p in files if p.suffix.lower() == kind] for kind in (".ipynb", ".zip", ".py")}
    for kind, handler in ((".ipynb", _notebook), (".zip", _from_zip), (".py", _script)):
        found = by_kind[kind]
        if len(found) > 1:
            raise BadUpload(f"the submission has {len(found)} {kind} files; upload exactly one. {WHAT_TO_UPLOAD}")
        if found:
            if found[0].stat().st_size > MAX_BYTES:
                raise BadUpload(
                    f"the file {_named(found[0].name)} is larger than {MAX_BYTES // 2**20} MB. Clear large outputs and upload it again."
                )
            nb = handler(found[0].read_bytes(), found[0].name)
            to_json(nb)  # what the route writes for the student phase: it must be writable
            return nb
    raise BadUpload(
        f"the submission holds no notebook ({len(files)} file{'s' if len(files) > 1 else ''} of other kinds). {WHAT_TO_UPLOAD}"
    )


def to_json(nb: Notebook) -> str:
    return json.dumps(nb, indent=1)
