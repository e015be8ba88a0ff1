"""The inputs each probe evaluates the student's code on, drawn from the secret seed.

Written by the trusted side into the sandbox before the student's notebook runs. The
seed lives only in the autograder (readable by root while grading), so the inputs cannot
be predicted in advance, and a regrade draws the same ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import shutil
import stat
import tempfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import data
from . import reference as R

Inputs = dict[str, Any]  # a question's inputs: named arrays and numbers, as its .npz holds them
Rng = np.random.Generator
Pair = tuple[np.ndarray, np.ndarray]  # (images, labels)
SECRET_SEED = int((pathlib.Path(__file__).parent / "secret_seed").read_text().split()[0])
P5_TRAJECTORY_SAMPLES = 50  # per-sample SGD steps that the trajectory check replays. Raw pixels make SGD chaotic:
# equivalent code drifts apart by 3e-11 of the distance moved after 50 steps, 5e-8 after 100 and 2e-3 after 200,
# while the closest wrong code is 0.15 away after 50 (tools/measure/calibration.py, part A; README "Accuracy bars")
P5_LEARNING_RATE = 0.003  # the notebook's, for the student's own training (it learns at this rate)
# Values that no default, global or round habit supplies: each check that something is "passed on" or "used" needs
# one that only the argument carries (docs/checks.md, "What each promise is checked by").
P5_TRAJECTORY_RATES = (0.0011, 0.0089)  # the learning rate handed to train_one_epoch: drawn per zip in this range
P5_UPDATE_RATES = (0.0042, 0.0187)  # the learning rate handed to train_one_sample on its update case
Q4_LABEL_SMOOTHING = (0.05, 0.2)  # the loss_fn handed to train_epoch and test_epoch: a cross-entropy with smoothing
P5_OWN_TRAINING_SAMPLES = 20000  # the student's own train_one_sample, run by the probe from the grader's start weights:
# correct code reaches 0.64-0.69 test accuracy, updating the last layer only 0.33-0.39 (bar 0.25); about 1-2 s
Q4_TRAIN_IMAGES, Q4_TEST_IMAGES = 200, 70  # last batches of 8 and 6 images


def rng_for(question: str) -> Rng:
    return np.random.default_rng([SECRET_SEED, zlib.crc32(question.encode())])


def _theta(rng: Rng, prefix: str, integer: bool = False) -> Inputs:
    draw: Callable[[int], np.ndarray] = (
        (lambda n: rng.integers(-3, 4, size=n).astype(float)) if integer else (lambda n: rng.normal(size=n))
    )
    return {
        prefix + "W_H": draw(4),
        prefix + "b_H": draw(4),
        prefix + "W_O": draw(4),
        prefix + "b_O": np.float64(draw(1)[0]),
    }


def theta_from(inp: Inputs, prefix: str) -> dict[str, Any]:
    return {k: inp[prefix + k] for k in R.THETA_KEYS}


HANDOUT_THETA0 = {
    "W_H": [-1.0, 1.0, 1.0, -1.0],
    "b_H": [1.0, 1.0, -1.0, 1.0],
    "W_O": [-1.0, -1.0, -1.0, 1.0],
    "b_O": 1.0,
}


def _network(rng: Rng, prefix: str, sizes: Sequence[int], scale: float = 1.0) -> Inputs:
    weights, biases = R.random_network(rng, sizes, scale)
    out: Inputs = {f"{prefix}W{l}": W for l, W in enumerate(weights)}
    out.update({f"{prefix}b{l}": b for l, b in enumerate(biases)})
    return out


def network_from(inp: Inputs, prefix: str, layers: int = 3) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return [inp[f"{prefix}W{l}"] for l in range(layers)], [inp[f"{prefix}b{l}"] for l in range(layers)]


def q1a(rng: Rng, _: Datasets) -> Inputs:
    return {f"x{i}": rng.normal(size=d) for i, d in enumerate((1, 3, 17))}


def q1b(rng: Rng, _: Datasets) -> Inputs:
    return {
        f"X{i}": rng.normal(size=(n, d)) * 3 + rng.normal(size=d) for i, (n, d) in enumerate(((1, 1), (5, 2), (40, 7)))
    }


def q2a(rng: Rng, _: Datasets) -> Inputs:
    out: Inputs = {"cases": np.int64(3)}
    for i, (n, d) in enumerate(((1, 1), (6, 3), (50, 4))):
        out.update({f"X{i}": rng.normal(size=(n, d)), f"y{i}": rng.normal(size=n), f"w{i}": rng.normal(size=d)})
    return out


def q2a_shapes(rng: Rng, _: Datasets) -> Inputs:
    sizes = np.vstack([rng.integers(2, 500, size=(4, 2)), [[7, 7]]])
    return {"n": sizes[:, 0], "d": sizes[:, 1]}


def q2b(rng: Rng, _: Datasets) -> Inputs:
    return {}


def q3a(rng: Rng, _: Datasets) -> Inputs:
    return {}


def q3b(rng: Rng, _: Datasets) -> Inputs:
    out: Inputs = {"cases": np.int64(3)}
    for i, n in enumerate((1, 5, 12)):
        theta = _theta(rng, f"t{i}_")
        xs = rng.uniform(-3, 3, size=n)
        out.update(theta, **{f"xs{i}": xs, f"ys{i}": rng.normal(size=n)})
        t = theta_from(out, f"t{i}_")
        # the grader's f and grad f at these points: the probe swaps them in as tables
        out[f"f{i}"] = R.relu_net(xs, t)
        grads = [R.grad_f(x, t) for x in xs]
        for key in R.THETA_KEYS:
            out[f"g{i}_{key}"] = np.array([g[key] for g in grads])
    return out


def q3c(rng: Rng, _: Datasets) -> Inputs:
    out: Inputs = {"cases": np.int64(20), "xs": rng.uniform(-4, 4, size=20)}
    for i in range(20):
        out.update(_theta(rng, f"t{i}_"))
    return out


def q3d(rng: Rng, _: Datasets) -> Inputs:
    out: Inputs = {f"theta0_{k}": np.asarray(v, dtype=float) for k, v in HANDOUT_THETA0.items()}
    # integer parameters and inputs hit z_bar = 0 exactly, where the handout's convention applies
    xs = list(rng.uniform(-4, 4, size=10)) + list(rng.integers(-3, 4, size=30).astype(float))
    for i in range(40):
        out.update(_theta(rng, f"t{i}_", integer=i >= 10))
    out.update(cases=np.int64(40), xs=np.array(xs))
    return out


def _fashion_weights(rng: Rng) -> Inputs:
    """Weights of the required shapes, initialised as torch's default Linear init would."""
    out: Inputs = {}
    for i, (n_in, n_out) in enumerate(zip(R.FASHION_SIZES[:-1], R.FASHION_SIZES[1:])):
        bound = 1 / np.sqrt(n_in)
        out[f"W{i}"] = rng.uniform(-bound, bound, size=(n_out, n_in)).astype(np.float32)
        out[f"b{i}"] = rng.uniform(-bound, bound, size=n_out).astype(np.float32)
    return out


def q4_arch(rng: Rng, _: Datasets) -> Inputs:
    return {"images": rng.uniform(0, 1, size=(16, 1, 28, 28)).astype(np.float32)}


def q4_train(rng: Rng, datasets: Datasets) -> Inputs:
    images, labels = datasets("FashionMNIST", "train")
    test_images, test_labels = datasets("FashionMNIST", "test")
    # each loader ends with a partial batch, where a mean over batches and a mean over
    # images differ (both are accepted) and where a loop that drops the last batch shows
    train_idx = rng.choice(len(images), size=Q4_TRAIN_IMAGES, replace=False)
    test_idx = rng.choice(len(test_images), size=Q4_TEST_IMAGES, replace=False)
    return {
        **_fashion_weights(rng),
        "lr": np.float64(0.05),
        "label_smoothing": np.float64(rng.uniform(*Q4_LABEL_SMOOTHING)),
        "train_images": images[train_idx][:, None],
        "train_labels": labels[train_idx],
        "test_images": test_images[test_idx][:, None],
        "test_labels": test_labels[test_idx],
    }


def q4_acc(rng: Rng, _: Datasets) -> Inputs:
    return {}


def q4_probs(rng: Rng, datasets: Datasets) -> Inputs:
    # the probe computes the model's outputs on the images that sample_idx names, from the grader's copy
    return {"test_images": datasets("FashionMNIST", "test")[0]}


def q5_1(rng: Rng, _: Datasets) -> Inputs:
    cases = [
        ([784, 32, 32, 10], 80085),
        ([784, 32, 32, 10], 0),
        ([784, 32, 32, 10], int(rng.integers(1, 2**31))),
        ([10, 400, 300, 20], 1),
        ([10, 400, 300, 20], int(rng.integers(1, 2**31))),
    ]  # n_out > n_in too
    out: Inputs = {"cases": np.int64(len(cases)), "seeds": np.array([s for _, s in cases])}
    out.update({f"sizes{i}": np.array(sizes) for i, (sizes, _) in enumerate(cases)})
    return out


def q5_2(rng: Rng, datasets: Datasets) -> Inputs:
    images, labels = datasets("MNIST", "test")
    sizes = list(R.MNIST_SIZES)
    out: Inputs = {**_network(rng, "n0_", sizes), **_network(rng, "n1_", sizes, scale=30.0)}  # the second saturates
    samples = [
        images[int(rng.integers(len(images)))].reshape(784),
        np.full(784, 255, dtype=np.uint8),
        np.zeros(784, dtype=np.uint8),
        rng.integers(0, 256, size=784).astype(np.uint8),
    ]
    cases = [(net, x) for net in (0, 1) for x in samples]
    for i, (_net, x) in enumerate(cases):
        out[f"x{i}"] = x
    out.update(
        cases=np.int64(len(cases)),
        net_of=np.array([net for net, _ in cases]),
        labels=rng.integers(0, 10, size=len(cases)),
    )
    pick = rng.choice(len(images), size=200, replace=False)
    out.update(_network(rng, "eval_", sizes, scale=3.0), eval_X=images[pick].reshape(-1, 784), eval_Y=labels[pick])
    return out


def q5_3(rng: Rng, datasets: Datasets) -> Inputs:
    images, labels = datasets("MNIST", "train")
    sizes = list(R.MNIST_SIZES)
    out: Inputs = {"cases": np.int64(4)}
    for i in range(4):
        out.update(_network(rng, f"n{i}_", sizes, scale=2.0 if i < 3 else 1.0))
        k = int(rng.integers(len(images)))
        out[f"x{i}"] = images[k].reshape(784)
    out["labels"] = rng.integers(0, 10, size=4)
    out.update(_network(rng, "update_", sizes))
    out["update_x"] = images[int(rng.integers(len(images)))].reshape(784)
    out.update(update_label=np.int64(rng.integers(10)), update_lr=np.float64(rng.uniform(*P5_UPDATE_RATES)))
    out["fd_indices"] = np.int64(12)  # entries per parameter array checked by centred differences
    return out


def q5_4(rng: Rng, datasets: Datasets) -> Inputs:
    images, labels = datasets("MNIST", "train")
    start = int(rng.integers(0, len(images) - P5_TRAJECTORY_SAMPLES))
    sizes = list(R.MNIST_SIZES)
    out: Inputs = {}
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        out[f"start_W{l}"] = rng.normal(0.0, np.sqrt(1.0 / max(n_in, n_out)), size=(n_out, n_in))
        out[f"start_b{l}"] = np.zeros(n_out)
    stop = start + P5_TRAJECTORY_SAMPLES
    out.update(X=images[start:stop].reshape(-1, 784), Y=labels[start:stop], lr=np.float64(P5_LEARNING_RATE))
    out.update(trajectory_lr=np.float64(rng.uniform(*P5_TRAJECTORY_RATES)))
    own = np.sort(rng.choice(len(images), size=P5_OWN_TRAINING_SAMPLES, replace=False))
    out.update(own_X=images[own].reshape(-1, 784), own_Y=labels[own])
    return out


GENERATORS: dict[str, Callable[[Rng, Datasets], Inputs]] = {
    name: f for name, f in globals().items() if name.startswith("q") and callable(f) and name[1].isdigit()
}


TRAINING_SAMPLE = 10000  # the verdict's secret sample of each training set (its accuracy there)
VERDICT_SPLITS = (("FashionMNIST", "test"), ("MNIST", "test"))  # what the verdict reads of the datasets: these
VERDICT_SAMPLES = ("FashionMNIST", "MNIST")  # and these training samples


class Datasets:
    """Loads each verified split once."""

    def __init__(self, root: str | pathlib.Path | None = None) -> None:
        self.root = root
        self.cache: dict[tuple[Any, ...], Pair] = {}

    def __call__(self, name: str, split: str) -> Pair:
        if (name, split) not in self.cache:
            self.cache[name, split] = data.load(name, split, self.root)
        return self.cache[name, split]

    def training_sample(self, name: str, size: int = TRAINING_SAMPLE) -> Pair:
        """A secret random sample of the training set: a submission cannot know which images it is compared on."""
        if (name, "train sample", size) not in self.cache:
            images, labels = self(name, "train")
            pick = np.sort(rng_for(f"{name} training sample").choice(len(images), size=size, replace=False))
            self.cache[name, "train sample", size] = images[pick], labels[pick]
        return self.cache[name, "train sample", size]

    def verdict_arrays(self) -> dict[str, np.ndarray]:
        """Everything the verdict reads of the datasets, as named arrays (for the cache)."""
        parts = {f"{name}/{split}": self(name, split) for name, split in VERDICT_SPLITS}
        parts.update({f"{name}/train sample": self.training_sample(name) for name in VERDICT_SAMPLES})
        return {f"{key}/{kind}": a for key, pair in parts.items() for kind, a in zip(("images", "labels"), pair)}

    def use_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        for name, split in VERDICT_SPLITS:
            self.cache[name, split] = arrays[f"{name}/{split}/images"], arrays[f"{name}/{split}/labels"]
        for name in VERDICT_SAMPLES:
            pair = arrays[f"{name}/train sample/images"], arrays[f"{name}/train sample/labels"]
            self.cache[name, "train sample", TRAINING_SAMPLE] = pair


def generate(question: str, datasets: Datasets) -> Inputs:
    return GENERATORS[question](rng_for(question), datasets)


def save(folder: str | pathlib.Path, question: str, arrays: Inputs) -> None:
    np.savez(pathlib.Path(folder) / f"{question}.npz", **arrays)


def load(folder: str | pathlib.Path, question: str) -> Inputs:
    with np.load(pathlib.Path(folder) / f"{question}.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


# The inputs depend only on the zip (its secret seed and code: its AUTOGRADER_ID) and the verified datasets: drawn
# once per zip (setup.sh at image build; locally, the first grading), kept root-only, and copied by each grading
# after their SHA-256 is checked, instead of drawing them again (~1.3 s of every grading). Beside them: what the
# verdict reads of the datasets, and the references computed from the inputs alone (checks.EXPECTED, which need
# torch: ~1 s of every verdict). The student never reaches this folder: root's, mode 0700, outside the sandbox's
# view; the references are read by the verdict only, never copied beside the probes' inputs.
CACHE_ROOT = pathlib.Path("/var/cache/hw1-inputs")
CACHE_KEEP = 8  # the most recently used zips' inputs; older ones are removed when a new one is stored
MANIFEST = "manifest.json"
DATASETS_FILE = "datasets.npz"  # what the verdict reads of the verified datasets (Datasets.verdict_arrays)
EXPECTED_FILE = "expected.npz"  # the references computed from these inputs alone (checks.EXPECTED), for the verdict
VERDICT_FILES = (DATASETS_FILE, EXPECTED_FILE)  # read by the verdict, never copied to the probes' inputs


def _cache_root() -> pathlib.Path | None:
    """The cache's root folder if it is root's own, mode 0700, not a link; else None (and nothing is cached)."""
    if os.geteuid() != 0:
        return None
    try:
        CACHE_ROOT.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(CACHE_ROOT)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
        return None
    return CACHE_ROOT


def _entry(autograder_id: str | None) -> pathlib.Path | None:
    root = _cache_root()
    if root is None or not isinstance(autograder_id, str) or len(autograder_id) != 64:
        return None
    if any(c not in "0123456789abcdef" for c in autograder_id):
        return None
    return root / autograder_id


def from_cache(folder: str | pathlib.Path, questions: Iterable[str], autograder_id: str | None) -> bool:
    """Copies this zip's cached inputs into ``folder``; False (nothing usable copied) when there are none or any
    file fails its SHA-256."""
    entry = _entry(autograder_id)
    if entry is None:
        return False
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        if not isinstance(manifest, dict) or set(manifest) != {f"{q}.npz" for q in questions} | set(VERDICT_FILES):
            return False
        for name, digest in sorted(manifest.items()):
            if name in VERDICT_FILES:  # read by the verdict (cached_datasets, cached_expected)
                continue
            raw = (entry / name).read_bytes()
            if hashlib.sha256(raw).hexdigest() != digest:
                return False
            (pathlib.Path(folder) / name).write_bytes(raw)
        os.utime(entry)  # recently used
        return True
    except (OSError, ValueError):
        return False


def _cached_arrays(autograder_id: str | None, name: str) -> dict[str, np.ndarray] | None:
    """One of this zip's cached verdict files as {key: array}, verified by SHA-256; None when there is none."""
    entry = _entry(autograder_id)
    if entry is None:
        return None
    try:
        digest = json.loads((entry / MANIFEST).read_text())[name]
        raw = (entry / name).read_bytes()
        if hashlib.sha256(raw).hexdigest() != digest:
            return None
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cached_datasets(datasets: Datasets, autograder_id: str | None) -> bool:
    """Gives ``datasets`` this zip's cached verdict arrays (verified by SHA-256); False when there are none."""
    arrays = _cached_arrays(autograder_id, DATASETS_FILE)
    if arrays is None:
        return False
    try:
        datasets.use_arrays(arrays)
    except KeyError:
        return False
    return True


def cached_expected(autograder_id: str | None) -> dict[str, Any] | None:
    """This zip's cached references, {question: nested dict of arrays} (verified by SHA-256), or None."""
    arrays = _cached_arrays(autograder_id, EXPECTED_FILE)
    return None if arrays is None else unflatten(arrays)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """Nested dicts of arrays as one flat dict, {"a/b/c": array}: what an .npz holds."""
    flat: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = np.asarray(value)
    return flat


def unflatten(flat: Mapping[str, np.ndarray]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        *path, last = key.split("/")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


def to_cache(
    folder: str | pathlib.Path,
    questions: Iterable[str],
    autograder_id: str | None,
    datasets: Datasets,
    expected: Callable[[], Mapping[str, Any]],
) -> None:
    """Stores the inputs just drawn into ``folder`` as this zip's, with what the verdict reads of ``datasets`` and
    the references ``expected()`` computes from those inputs (atomically; a failure only means no cache)."""
    entry = _entry(autograder_id)
    if entry is None:
        return
    try:
        references = flatten(expected())
    except Exception:  # a speed-up only: without the cache the verdict computes them itself, and says so if it fails
        return
    if entry.exists():  # unusable (from_cache found it so): replaced; a reader copying it checks every hash
        shutil.rmtree(entry, ignore_errors=True)
    staging = None
    try:
        staging = pathlib.Path(tempfile.mkdtemp(prefix=".staging-", dir=entry.parent))
        manifest: dict[str, str] = {}
        for question in questions:
            name = f"{question}.npz"
            raw = (pathlib.Path(folder) / name).read_bytes()
            (staging / name).write_bytes(raw)
            manifest[name] = hashlib.sha256(raw).hexdigest()
        for name, arrays in ((DATASETS_FILE, datasets.verdict_arrays()), (EXPECTED_FILE, references)):
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub: a key could be allow_pickle
            (staging / name).write_bytes(buffer.getvalue())
            manifest[name] = hashlib.sha256(buffer.getvalue()).hexdigest()
        (staging / MANIFEST).write_text(json.dumps(manifest))
        os.rename(staging, entry)
    except OSError:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        return
    others = sorted(  # not the staging folders (".staging-"), which other gradings may be filling
        (p for p in entry.parent.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in others[CACHE_KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
