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
MAX_INFLATED = 256 * 2**20  # what the arrays of one bundle may hold once inflated (the probes hand over a few MB)


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


class Refused(ValueError):
    """A hand-over file the grader will not read; the message is the grader's own words (no text of the file's)."""


def _open_regular(path):
    """The bytes of a regular file (no symlinks, bounded size), or None if absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Refused(f"{os.path.basename(path)} cannot be read safely ({type(error).__name__})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            raise Refused(f"{os.path.basename(path)} is not a regular file of at most {MAX_BYTES} bytes")
        return f.read()


def check_inflated_size(blob, name, limit=MAX_INFLATED):
    """Refuses an .npz whose arrays would inflate past ``limit`` bytes, before anything is inflated.

    Each member's declared size (the zip's central directory) bounds what zipfile will inflate from it,
    and each array's header (shape and dtype) bounds what np.load allocates: both are checked.
    """
    import io
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except zipfile.BadZipFile:
        raise Refused(f"{name}.npz is not a valid .npz") from None
    with archive:
        infos = archive.infolist()
        declared = sum(info.file_size for info in infos)
        if len(infos) > 10_000 or declared > limit:
            raise Refused(
                f"{name}.npz would inflate to {declared} bytes in {len(infos)} arrays, above the limit of "
                f"{limit} bytes: refused unread"
            )
        for info in infos:
            with archive.open(info) as member:
                try:
                    version = np.lib.format.read_magic(member)
                    reader = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = reader(member, max_header_size=10_000)
                except Exception:
                    raise Refused(f"{name}.npz holds a member that is not a plain array: refused unread") from None
                count = 1
                for n in shape:
                    count *= int(n)
                if count * dtype.itemsize > info.file_size:
                    raise Refused(
                        f"{name}.npz holds an array that declares {count * dtype.itemsize} bytes of data in "
                        f"{info.file_size}: refused unread"
                    )


def read(folder, name):
    """The object written by ``write`` (or by the probes' own writer), or None if it was never handed over."""
    import io

    text = _open_regular(os.path.join(folder, name + ".json"))
    if text is None:
        return None
    blob = _open_regular(os.path.join(folder, name + ".npz"))
    arrays = {}
    if blob is not None:
        check_inflated_size(blob, name)
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
    text = "".join(
        " " if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") else ch
        for ch in str(text)[: 4 * limit]
    )
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


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
