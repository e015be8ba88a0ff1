"""What a folder of submissions holds: the uploads to grade or compare, one row each.

A folder is either a folder of uploads (every ``*.ipynb`` and ``*.zip`` in it, keyed by file name) or
Gradescope's "Export Submissions" folder (``submission_metadata.yml`` beside one folder per submission,
keyed by the folder, with the submitters' names, SIDs and emails). ``make grade`` and ``make similarity``
both read a folder this way.
"""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from tools import errors
from tools.report.safe_text import folder_name

METADATA = "submission_metadata.yml"
UPLOAD_SUFFIXES = (".ipynb", ".zip")
IDENTITY = ("name", "sid", "email")


@dataclass
class Submission:
    key: str  # the row: the upload's file name, or Gradescope's submission folder
    path: pathlib.Path  # a file, or a folder that the route reads as one upload
    identity: dict[str, str] = field(default_factory=dict)  # name, sid, email (Gradescope export)

    @property
    def folder(self) -> str:
        """Its folder in OUT: a plain name derived from the key (the key itself stays in the CSV, made safe)."""
        return folder_name(self.key)


def identity_of(entry: object) -> dict[str, str]:
    """Gradescope's ``:submitters`` (Ruby symbols as keys) as name, sid, email; several joined by "; "."""
    if not isinstance(entry, dict):
        return {}
    submitters = entry.get(":submitters", entry.get("submitters")) or []
    values: dict[str, list[str]] = {k: [] for k in IDENTITY}
    for person in submitters if isinstance(submitters, list) else []:
        if isinstance(person, dict):
            person = {str(k).lstrip(":"): v for k, v in person.items()}
            for k in IDENTITY:
                if person.get(k) not in (None, ""):
                    values[k].append(str(person[k]))
    return {k: "; ".join(v) for k, v in values.items()}


def find_submissions(
    where: str | pathlib.Path, exclude: Iterable[str | pathlib.Path] = ()
) -> tuple[list[Submission], list[str], bool]:
    """(submissions, ignored names, whether the folder is a Gradescope export)."""
    folder = pathlib.Path(where)
    excluded = {pathlib.Path(p).resolve() for p in exclude}
    if not folder.is_dir():
        raise errors.SubmissionsError(f"{folder} is not a folder of submissions")
    metadata_path = folder / METADATA
    if metadata_path.exists():
        import yaml

        metadata = yaml.safe_load(metadata_path.read_text()) or {}
        if not isinstance(metadata, dict):
            raise errors.SubmissionsError(
                f"{metadata_path} is not Gradescope's submission metadata (a mapping of submission folders)"
            )
        submissions: list[Submission] = []
        ignored: list[str] = []
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(".") or entry.resolve() in excluded or entry.name == METADATA:
                continue
            if entry.is_dir():
                submissions.append(Submission(entry.name, entry, identity_of(metadata.get(entry.name))))
            else:
                ignored.append(entry.name)
        missing = sorted(set(map(str, metadata)) - {s.key for s in submissions})
        ignored += [f"{name} (in the metadata, no folder)" for name in missing]
        return submissions, ignored, True
    submissions, ignored = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.resolve() in excluded:
            continue
        if entry.suffix.lower() in UPLOAD_SUFFIXES and not entry.is_dir():
            submissions.append(Submission(entry.name, entry))
        else:
            ignored.append(entry.name + ("/" if entry.is_dir() else ""))
    return submissions, ignored, False


def upload_hash(upload: str | pathlib.Path) -> str:
    """SHA-256 of the upload: its bytes, or for a folder its files' relative names and bytes."""
    digest = hashlib.sha256()
    path = pathlib.Path(upload)
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                digest.update(p.relative_to(path).as_posix().encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()
