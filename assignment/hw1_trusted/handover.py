"""Plain data across the boundary: the grader's inputs out, the probes' outputs back.

A bundle is ``NAME.json`` (structure: numbers, strings, lists, dicts) plus ``NAME.npz``
(numeric arrays, referenced from the JSON as ``{"@array": key}``). Nothing is unpickled:
``np.load(allow_pickle=False)`` refuses object arrays, and only regular files of bounded size
are read, so a symlink or a huge file planted by student code is rejected.
"""

from __future__ import annotations

import json
import os
import pathlib
import stat
import unicodedata
from collections.abc import Iterable
from typing import Any

import numpy as np

KB, MB = 2**10, 2**20
# What each question's probe hands over (its .json and .npz together), measured on the solution: 15 MB in all,
# the JSON 4.3 KB at most. A question may hand over 4 times that, and at least 256 KB: room for answers given as
# lists rather than arrays (about 3 times larger as JSON). Beyond its cap a question's data is refused unread,
# for that question alone; the total is capped too. Measured on the reference's hand-over, which
# tests/test_handover_roundtrip.py holds to these figures (within 10%).
MEASURED_BYTES = {
    "q1a": 994, "q1b": 906, "q2a": 215, "q2a_shapes": 343, "q2b": 53, "q3a": 1_870, "q3b": 2_798, "q3c": 650,
    "q3d": 38_394, "q4_arch": 1_945_739, "q4_train": 1_944_259, "q4_acc": 1_944_194, "q4_probs": 1_945_504,
    "q5_1": 2_735_465, "q5_2": 3_002, "q5_3": 1_281_733, "q5_4": 3_519_387,
}  # fmt: skip
QUESTION_FLOOR = 256 * KB


def question_cap(question: str) -> int:
    """The most that one question's hand-over (.json and .npz together) may hold, in bytes."""
    return max(QUESTION_FLOOR, 4 * MEASURED_BYTES.get(question, 0))


TOTAL_CAP = 64 * MB  # every question's hand-over together (the solution's: 15.4 MB)
RECORD_CAP = 64 * KB  # each record of the student phase's (progress.json, phase_timings.json: under 1 KB)
RECORDS = ("progress.json", "phase_timings.json")
MAX_BYTES = max(question_cap(q) for q in MEASURED_BYTES)  # the largest file that read() opens
MAX_INFLATED = MAX_BYTES  # the probes' .npz are stored, not compressed: inflated, a bundle is as large as its file


def write(folder: str | os.PathLike[str], name: str, obj: object) -> None:
    arrays: dict[str, np.ndarray] = {}

    def strip(value: object) -> Any:
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
    np.savez(os.path.join(folder, name + ".npz"), **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle
    with open(os.path.join(folder, name + ".json"), "w") as f:
        json.dump(structure, f)


class Refused(ValueError):
    """A hand-over file the grader will not read; the message is the grader's own words (no text of the file's)."""


def _open_regular(path: str) -> bytes | None:
    """The bytes of a regular file (no symlinks, bounded size), or None if absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Refused(f"{os.path.basename(path)} cannot be read safely ({type(error).__name__})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            raise Refused(f"{os.path.basename(path)} is not a regular file of at most {MAX_BYTES} bytes")
        return f.read()


def check_inflated_size(blob: bytes, name: str, limit: int = MAX_INFLATED) -> None:
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


def read(folder: str | os.PathLike[str], name: str) -> Any:
    """The object written by ``write`` (or by the probes' own writer), or None if it was never handed over."""
    import io

    text = _open_regular(os.path.join(folder, name + ".json"))
    if text is None:
        return None
    blob = _open_regular(os.path.join(folder, name + ".npz"))
    arrays: dict[str, np.ndarray] = {}
    if blob is not None:
        check_inflated_size(blob, name, question_cap(name) if name in MEASURED_BYTES else MAX_INFLATED)
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}

    def restore(value: object) -> Any:
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


def clean_text(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` on one line: every control, format, private-use, surrogate or unassigned character
    (Unicode C*) and every line or paragraph separator (Zl, Zp, and \\x85, \\u2028, \\u2029) becomes a
    space, runs of white space become one space, and at most ``limit`` characters are kept."""
    cleaned = "".join(
        " " if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") else ch
        for ch in str(text)[: 4 * limit]
    )
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "\u2026"


def student_text(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` cleaned and marked as the student's, for the verdict to quote with a label."""
    return STUDENT_OPEN + clean_text(text, limit) + STUDENT_CLOSE


def sanitise(value: object) -> Any:
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


# --- what root copies out of the student's folder -------------------------------------------------


class Collected:
    """What the route copied out of the hand-over folder: per question, "whole" (its files arrived as they were),
    or why they were refused ("size", "kind": not a regular file of the sandbox user's), or nothing; the records
    that arrived; and how many bytes root wrote. Every fact here is the route's own observation."""

    def __init__(self) -> None:
        self.questions: dict[str, str] = {}
        self.records: list[str] = []
        self.bytes, self.folder_replaced = 0, False

    def as_json(self) -> dict[str, Any]:
        return {"questions": self.questions, "records": self.records, "bytes": self.bytes,
                "folder_replaced": self.folder_replaced}  # fmt: skip


def _open_member(folder_fd: int, name: str) -> tuple[int, os.stat_result | None] | None:
    """(fd, stat) of ``name`` in the folder, not followed if it is a link, never blocking on a FIFO; None if absent."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except FileNotFoundError:
        return None
    except OSError:
        return -1, None
    return fd, os.fstat(fd)


def _copy(fd: int, size: int, target: pathlib.Path) -> None:
    """Copies exactly ``size`` bytes (what the file claimed before a byte was read) from fd into ``target``."""
    with os.fdopen(fd, "rb") as source, open(target, "wb") as out:
        left = size
        while left > 0:
            chunk = source.read(min(left, MB))
            if not chunk:
                raise OSError(f"{target.name} was shorter than it claimed")
            out.write(chunk)
            left -= len(chunk)


def collect(
    handover_dir: str | os.PathLike[str], answers: str | os.PathLike[str], uid: int | None, questions: Iterable[str]
) -> Collected:
    """Copies each question's hand-over and the phase's records out of the student's folder, bounded before a byte
    is copied: only the names the grader expects are opened (whatever else the folder holds is never listed); each
    must be a regular file of the sandbox user's; each question's files together at most ``question_cap``, the
    records at most ``RECORD_CAP`` each, and all of it at most ``TOTAL_CAP``, by the sizes the files claim. A
    refused question gets no files here: the verdict then says that its data was refused, and why.

    Raises OSError only for root's own failure (writing ``answers``): a grader fault, never the student's."""
    target = pathlib.Path(answers)
    target.mkdir()
    found = Collected()
    try:
        folder = os.open(handover_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        found.folder_replaced = True
        return found
    try:
        if uid is not None and os.fstat(folder).st_uid != uid:
            found.folder_replaced = True
            return found
        groups: list[tuple[str | None, tuple[str, ...], int]]
        groups = [(q, (q + ".json", q + ".npz"), question_cap(q)) for q in questions]
        groups += [(None, (name,), RECORD_CAP) for name in RECORDS]
        for question, names, cap in groups:
            opened: list[tuple[str, int, os.stat_result | None]] = []
            refused: str | None = None
            for name in names:
                member = _open_member(folder, name)
                if member is None:
                    continue
                fd, info = member
                if fd != -1:
                    opened.append((name, fd, info))
                if info is None or not stat.S_ISREG(info.st_mode) or (uid is not None and info.st_uid != uid):
                    refused = "kind"
            size = sum(info.st_size for _, _, info in opened if info is not None)
            if refused is None and (size > cap or found.bytes + size > TOTAL_CAP):
                refused = "size"
            try:
                if refused is None and opened:
                    for name, fd, info in opened:
                        _copy(os.dup(fd), info.st_size if info is not None else 0, target / name)  # never None here
                    found.bytes += size
            finally:
                for _, fd, _ in opened:
                    os.close(fd)
            if question is not None:
                found.questions[question] = refused or ("whole" if opened else "none")
            elif opened and refused is None:
                found.records.append(names[0])
    finally:
        os.close(folder)
    return found


def read_record(folder: str | os.PathLike[str], name: str, limit: int = RECORD_CAP) -> dict[str, Any]:
    """A record of the student phase's (a JSON object), or {}: whatever the file holds (deep nesting, huge numbers,
    other types, bytes that are not UTF-8, a link, a FIFO), reading it never raises."""
    try:
        data = _open_regular(os.path.join(folder, name))
        if data is None or len(data) > limit:
            return {}
        value = json.loads(data.decode("utf-8"))
        return value if isinstance(value, dict) else {}
    except Exception:  # the record is the student's to write: any failure to read it is a record not kept
        return {}
