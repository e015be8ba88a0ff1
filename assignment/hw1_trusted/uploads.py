"""What the student uploaded, turned into the one notebook that gets graded, or a clear refusal.

Accepted: a notebook under any name, Otter's export zip, a ``.py`` export, and notebooks
without Otter's metadata (cells pasted into a fresh Colab notebook).
"""

import io
import json
import pathlib
import zipfile

import nbformat

ASSIGNMENT = "hw1"
MAX_BYTES = 50 * 2**20
WHAT_TO_UPLOAD = "Upload your hw1.ipynb (File > Download > .ipynb in Colab), or the zip that the notebook's last cell exports."


class BadUpload(Exception):
    """One sentence for the student on what went wrong and what to upload instead."""


def _ignored(name):
    parts = pathlib.PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" or p == ".ipynb_checkpoints" for p in parts)


def _notebook(data, name):
    if not data.strip():
        raise BadUpload(f"{name} is empty. {WHAT_TO_UPLOAD}")
    try:
        nb = nbformat.reads(data.decode("utf-8-sig"), as_version=4)
    except Exception:
        raise BadUpload(f"{name} is not a valid Jupyter notebook (it could not be read as one). {WHAT_TO_UPLOAD}") from None
    if not any(cell.cell_type == "code" for cell in nb.cells):
        raise BadUpload(f"{name} has no code cells. {WHAT_TO_UPLOAD}")
    nb.metadata.setdefault("otter", {})["assignment_name"] = ASSIGNMENT  # pasted into a fresh notebook: no metadata
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def _script(data, name):
    """A .py export as a notebook: one code cell per ``# In[ ]:`` or ``# %%`` block."""
    text = data.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise BadUpload(f"{name} is empty. {WHAT_TO_UPLOAD}")
    cells, current = [], []
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


def _from_zip(data, name):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir() and not _ignored(m.filename)]
    except zipfile.BadZipFile:
        raise BadUpload(f"{name} is not a valid zip file. {WHAT_TO_UPLOAD}") from None
    notebooks = [m for m in members if m.filename.endswith(".ipynb")]
    if len(notebooks) != 1:
        found = "no notebook" if not notebooks else f"{len(notebooks)} notebooks"
        raise BadUpload(f"{name} holds {found}; it must hold exactly one. {WHAT_TO_UPLOAD}")
    if notebooks[0].file_size > MAX_BYTES:
        raise BadUpload(f"the notebook in {name} is larger than {MAX_BYTES // 2**20} MB. Clear large outputs and upload it again.")
    return _notebook(archive.read(notebooks[0]), notebooks[0].filename)


def normalise(folder):
    """The submission in ``folder`` as one notebook (nbformat node); raises BadUpload."""
    files = [p for p in sorted(pathlib.Path(folder).rglob("*")) if p.is_file() and not p.is_symlink()
             and not _ignored(str(p.relative_to(folder)))]
    if not files:
        raise BadUpload(f"the submission is empty. {WHAT_TO_UPLOAD}")
    by_kind = {kind: [p for p in files if p.suffix.lower() == kind] for kind in (".ipynb", ".zip", ".py")}
    for kind, handler in ((".ipynb", _notebook), (".zip", _from_zip), (".py", _script)):
        found = by_kind[kind]
        if len(found) > 1:
            raise BadUpload(f"the submission has {len(found)} {kind} files ({', '.join(p.name for p in found)}); "
                            f"upload exactly one. {WHAT_TO_UPLOAD}")
        if found:
            if found[0].stat().st_size > MAX_BYTES:
                raise BadUpload(f"{found[0].name} is larger than {MAX_BYTES // 2**20} MB. Clear large outputs and upload it again.")
            return handler(found[0].read_bytes(), found[0].name)
    names = ", ".join(p.name for p in files[:3])
    raise BadUpload(f"the submission ({names}) holds no notebook. {WHAT_TO_UPLOAD}")


def to_json(nb):
    return json.dumps(nb, indent=1)
