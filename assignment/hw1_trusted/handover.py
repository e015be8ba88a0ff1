"""Plain data across the boundary: the grader's inputs out, the probes' outputs back.

A bundle is ``NAME.json`` (structure: numbers, strings, lists, dicts) plus ``NAME.npz``
(numeric arrays, referenced from the JSON as ``{"@array": key}``). Nothing is unpickled:
``np.load(allow_pickle=False)`` refuses object arrays, and only regular files of bounded size
are read, so a symlink or a huge file planted by student code is rejected.
"""

import json
import os
import stat
import unicodedata

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

    return sanitise(restore(json.loads(text)))


# --- the student's text -------------------------------------------------------------------------
# Every string handed over is the student's: it may hold line breaks, any Unicode and any claim.
# ``read`` cleans each string (one line, bounded) and marks string values with two private-use
# characters, which no cleaned text can hold; the verdict shows marked text only inside a quote
# labelled as the student's (verdict.render), whatever message of the checks it was put into.

STUDENT_OPEN, STUDENT_CLOSE = "\ue000", "\ue001"
MAX_TEXT = 160  # characters of one piece of the student's text


def clean_text(text, limit=MAX_TEXT):
    """``text`` on one line: every control, format, private-use, surrogate or unassigned character
    (Unicode C*) and every line or paragraph separator (Zl, Zp, and \\x85, \\u2028, \\u2029) becomes a
    space, runs of white space become one space, and at most ``limit`` characters are kept."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") else ch
                   for ch in str(text)[:4 * limit])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def student_text(text, limit=MAX_TEXT):
    """``text`` cleaned and marked as the student's, for the verdict to quote with a label."""
    return STUDENT_OPEN + clean_text(text, limit) + STUDENT_CLOSE


def sanitise(value):
    """Handed-over answers with every string made safe: keys cleaned, string values cleaned and marked
    as the student's; arrays that do not hold numbers (text, bytes, objects) become a type note."""
    if isinstance(value, str):
        return student_text(value)
    if isinstance(value, dict):
        return {clean_text(k): sanitise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sanitise(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind not in "biufc":
        return {"@type": f"an array of {value.dtype.kind!r}-kind values (not numbers)"}
    return value
