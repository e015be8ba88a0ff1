"""A writable copy of the course datasets, for offline builds and tests.

torchvision extracts next to the ``.gz`` files it verifies, and ``../shared`` is
read-only in CI, so the original files are copied once into ``.cache/data``.
The notebook and the hidden tests find them through ``HW1_DATA_DIR``.

    python -m tools.data_cache FOLDER [--verify]    extracts FOLDER's .gz files as torchvision does (and checks
                                                    them with the grader's MD5s)
    python -m tools.data_cache --prepare            fills and extracts the cache and, as root, places the verified
                                                    datasets where the route reads them: make test does it once,
                                                    before its processes read them at once (tests/suite.py)
"""

import argparse
import os
import pathlib
import shutil
import tempfile

from tools import ASSIGNMENT, ROOT
from tools.trusted import settings, trusted_module

SHARED_DATA = pathlib.Path(settings.SHARED_DATA.value() or ROOT.parent / "shared" / "data")
CACHE = ROOT / ".cache" / "data"
DATASETS = ("FashionMNIST", "MNIST")


def ensure_data_cache():
    """Copies the original .gz files into the cache if needed; returns the cache folder, or None.

    None means there is no local copy of the data: the notebook then downloads it as students do.
    """
    if not all((SHARED_DATA / name / "raw").is_dir() for name in DATASETS):
        return None
    for name in DATASETS:
        target = CACHE / name / "raw"
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted((SHARED_DATA / name / "raw").glob("*.gz")):
            copy = target / source.name
            if not copy.exists() or copy.stat().st_size != source.stat().st_size:
                handle, partial = tempfile.mkstemp(dir=target, prefix=f".{copy.name}.")  # renamed when whole: a
                os.close(handle)  # reader elsewhere sees all of the file or none of it
                shutil.copyfile(source, partial)  # copyfile: the copies must be writable
                os.chmod(partial, 0o644)  # as a plain copy would be (mkstemp makes it 0600)
                os.replace(partial, copy)
    return CACHE


def data_environment(threads=None):
    """os.environ plus HW1_DATA_DIR pointing at the cache, when there is one.

    ``threads`` caps the BLAS/torch threads of the processes started with it.
    """
    env = dict(os.environ)
    cache = ensure_data_cache()
    if cache is not None:
        env[settings.DATA_DIR.name] = str(cache)
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    return env


def extract(root, verify=False):
    """torchvision's own extraction of the datasets' .gz files in root; verify: the grader's check of every file."""
    import torchvision  # only here: the tools that import this module never need torch

    for name in DATASETS:
        for train in (True, False):
            getattr(torchvision.datasets, name)(str(root), train=train, download=True)
    if verify:
        trusted_module("data", ASSIGNMENT).verify_all(str(root))


def prepare():
    """Everything the suite reads of the datasets, written once: the cache, extracted, and as root the route's
    verified copy. Afterwards notebooks, probes and gradings only read them, so several may run at once."""
    cache = ensure_data_cache()
    if cache is None:
        print("no local copy of the datasets (../shared/data or $HW1_SHARED_DATA): notebooks will download them")
        return
    extract(cache)
    if os.geteuid() == 0:
        from tools.grade import gradescope  # here: the grading tools import this module

        gradescope.place_data()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=pathlib.Path, nargs="?")
    parser.add_argument("--verify", action="store_true", help="check every file against the grader's MD5s")
    parser.add_argument("--prepare", action="store_true", help="the cache, extracted, and the route's copy (root)")
    args = parser.parse_args()
    if args.prepare:
        prepare()
    elif args.folder is None:
        parser.error("give a FOLDER to extract, or --prepare")
    else:
        extract(args.folder, args.verify)
