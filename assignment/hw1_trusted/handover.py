"""Plain data across the boundary: the grader's inputs out, the probes' outputs back.

A bundle is ``NAME.json`` (structure: numbers, strings, lists, dicts) plus ``NAME.npz``
(numeric arrays, referenced from the JSON as ``{"@array": key}``). Nothing is unpickled:
``np.load(allow_pickle=False)`` refuses object arrays, and only regular files of bounded size
are read, so a symlink or a huge file planted by student code is rejected.
"""

import json
import os
import stat

import numpy as np

MAX_BYTES = 64 * 2**20


def write(folder, name, obj):
    arrays = {}

    def strip(value):
        if isinstance(value, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"@array": key}
        if isinstance(value, dict):
            return {str(k): strip(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [strip(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    structure = strip(obj)
    np.savez(os.path.join(folder, name + ".npz"), **arrays)
    with open(os.path.join(folder, name + ".json"), "w") as f:
        json.dump(structure, f)


def _open_regular(path):
    """The bytes of a regular file (no symlinks, bounded size), or None if absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ValueError(f"{os.path.basename(path)} cannot be read safely: {error}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            raise ValueError(f"{os.path.basename(path)} is not a regular file of at most {MAX_BYTES} bytes")
        return f.read()


def read(folder, name):
    """The object written by ``write`` (or by the probes' own writer), or None if it was never handed over."""
    import io

    text = _open_regular(os.path.join(folder, name + ".json"))
    if text is None:
        return None
    blob = _open_regular(os.path.join(folder, name + ".npz"))
    arrays = {}
    if blob is not None:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}

    def restore(value):
        if isinstance(value, dict):
            if set(value) == {"@array"}:
                return arrays[value["@array"]]
            return {k: restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        return value

    return restore(json.loads(text))
