"""The grader's own copy of the datasets: read from the image's data folder, verified by MD5.

The folder is written once, when the image is built (setup.sh, or the emulation), and is
read-only to the student. The student's notebook reads the same folder through torchvision;
the grader parses the original ``.gz`` files itself, after checking them against torchvision's MD5s.
"""

import gzip
import hashlib
import pathlib

import numpy as np

from . import settings

DATA_ROOT = pathlib.Path(settings.DATA_ROOT.value())

# torchvision's MD5s of the original files
MD5 = {
    "FashionMNIST": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "MNIST": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
}


class DataMissing(Exception):
    pass


def _read(name: str, filename: str, root: pathlib.Path) -> bytes:
    path = root / name / "raw" / filename
    if not path.is_file():
        raise DataMissing(
            f"the grader's copy of {name} is missing: {path} does not exist. The autograder image must be rebuilt "
            f"(setup.sh downloads it), or, locally, run `make gradescope`, which places it there."
        )
    raw = path.read_bytes()
    if hashlib.md5(raw).hexdigest() != MD5[name][filename]:
        raise DataMissing(
            f"the grader's copy of {name} is corrupt: {path} fails its MD5 check. Rebuild the autograder image."
        )
    return gzip.decompress(raw)


def load(name: str, split: str, root: str | pathlib.Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the verified original files."""
    root = pathlib.Path(root) if root is not None else DATA_ROOT
    prefix = "train" if split == "train" else "t10k"
    images = _read(name, f"{prefix}-images-idx3-ubyte.gz", root)
    labels = _read(name, f"{prefix}-labels-idx1-ubyte.gz", root)
    n = int.from_bytes(images[4:8], "big")
    x = np.frombuffer(images, dtype=np.uint8, offset=16).reshape(n, 28, 28)
    y = np.frombuffer(labels, dtype=np.uint8, offset=8).astype(np.int64)
    return x, y


def verify_all(root: str | pathlib.Path | None = None) -> None:
    """Raises DataMissing unless every file is present and verified."""
    root = pathlib.Path(root) if root is not None else DATA_ROOT
    for name, files in MD5.items():
        for filename in files:
            _read(name, filename, root)


def require_present(root: str | pathlib.Path | None = None) -> None:
    """Raises DataMissing unless every file is there (each is verified by its MD5 where it is read)."""
    root = pathlib.Path(root) if root is not None else DATA_ROOT
    for name, files in MD5.items():
        for filename in files:
            path = root / name / "raw" / filename
            if not path.is_file():
                raise DataMissing(f"the grader's copy of {name} is missing: {path} does not exist")
