"""The grader's own reference computations. Trusted phase only: never imported in the student's kernel."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypedDict, cast

import numpy as np

from . import settings


# Tolerances per dtype: float64 references are exact up to rounding noise, float32 (torch, or numpy code that
# computes in float32, the default precision of deep learning) accumulates more.
class Tolerance(TypedDict):
    rtol: float
    atol: float


TOLERANCES: dict[str, Tolerance] = {
    "float64": {"rtol": 1e-7, "atol": 1e-9},
    "float32": {"rtol": 1e-4, "atol": 1e-5},
}
LOW_PRECISION = {"float32", "float16", "bfloat16"}
Layer = tuple[np.ndarray, np.ndarray]  # a Linear layer's (weight (out, in), bias (out,))
Theta = dict[str, np.ndarray]  # Problem 3's parameters by THETA_KEYS


def precision(out: object) -> str:
    """The tolerance class of a question's answers: "float32" when any float the probe handed over was computed
    in float32 (or lower; the probe records the dtypes, ``@dtypes``, before it casts to float64), else "float64"."""
    dtypes = out.get("@dtypes") if isinstance(out, dict) else None
    # the hand-over reader marks every string as the student's (handover.sanitise): compare without the marks
    names = {str(d).strip("\ue000\ue001") for d in dtypes} if isinstance(dtypes, list) else set()
    return "float32" if LOW_PRECISION & names else "float64"


class Mismatch(Exception):
    """A check failed; the message names what and where, never the expected value."""


def as_float_array(value: object, what: str) -> np.ndarray:
    """A handed-over value as a float64 array; errors that the probe recorded become a Mismatch."""
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"{what}: your code raised {value['@error']}")
    if isinstance(value, dict) and "@type" in value:
        raise Mismatch(f"{what} should be numeric, got {value['@type']}")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Mismatch(f"{what} should be numeric, got {type(value).__name__}") from None


def compare(actual: object, expected: object, what: str, dtype: str = "float64", shape_matters: bool = True) -> None:
    """Raises Mismatch unless ``actual`` equals ``expected`` within the tolerance for ``dtype``."""
    got = as_float_array(actual, what)
    want = np.asarray(expected, dtype=np.float64)
    if shape_matters and got.shape != want.shape:
        raise Mismatch(f"{what} has shape {got.shape}, but shape {want.shape} was expected")
    if not shape_matters:
        got, want = got.reshape(-1), want.reshape(-1)
        if got.size != want.size:
            raise Mismatch(f"{what} has {got.size} entries, but {want.size} were expected")
    if not np.all(np.isfinite(got)):
        raise Mismatch(f"{what} contains NaN or infinite values")
    bad = ~np.isclose(got, want, **TOLERANCES[dtype])
    if bad.any():
        raise Mismatch(
            f"{what} is wrong in {int(bad.sum())} of {bad.size} entries (first at index {np.argwhere(bad)[0].tolist()})"
        )


def relative_error(a: object, b: object) -> float:
    """||a - b|| / (||a|| + ||b||) over whole arrays (entries near 0 would compare noise with noise)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(x - y) / max(1e-12, float(np.linalg.norm(x) + np.linalg.norm(y))))


def displacement_error(actual: object, expected: object, start: object) -> float:
    """||actual - expected|| / ||expected - start||: the error of a training run relative to how far it moved."""
    got, want, first = (np.asarray(a, dtype=np.float64) for a in (actual, expected, start))
    return float(np.linalg.norm(got - want) / max(1e-300, float(np.linalg.norm(want - first))))


def centred_difference(
    f: Callable[[], float], array: np.ndarray, index: int | tuple[int, ...], h: float = 1e-5
) -> float:
    """(f(x + h) - f(x - h)) / 2h for one entry of ``array``, restored afterwards (CS231n style, float64)."""
    old = array[index]
    array[index] = old + h
    plus = f()
    array[index] = old - h
    minus = f()
    array[index] = old
    return (plus - minus) / (2 * h)


# ---------------------------------------------------------------- Problem 3

THETA_KEYS = ("W_H", "b_H", "W_O", "b_O")
THETA_SHAPES = {"W_H": (4,), "b_H": (4,), "W_O": (4,), "b_O": ()}


def theta_arrays(theta: object, what: str = "theta") -> Theta:
    """A handed-over parameter dict as float64 arrays (4,), (4,), (4,), ()."""
    if isinstance(theta, dict) and "@error" in theta:
        raise Mismatch(f"{what}: your code raised {theta['@error']}")
    if not isinstance(theta, dict) or set(theta) != set(THETA_KEYS):
        raise Mismatch(f"{what} must be a dict with exactly the keys {THETA_KEYS}")
    arrays: Theta = {}
    for key in THETA_KEYS:
        a = as_float_array(theta[key], f"{what}[{key!r}]")
        size = int(np.prod(THETA_SHAPES[key]))
        if a.size != size:
            raise Mismatch(f"{what}[{key!r}] must have {size} entries")
        arrays[key] = a.reshape(THETA_SHAPES[key])
    return arrays


def relu_net(x: object, theta: object) -> np.ndarray:
    """f(x, theta), vectorised over x."""
    t = theta_arrays(theta)
    xs = np.asarray(x, dtype=np.float64)
    z = np.maximum(0.0, xs[..., None] * t["W_H"] + t["b_H"])
    return z @ t["W_O"] + t["b_O"]


@functools.cache
def load_torch() -> Any:
    """torch, for the references that need its autograd or its training step: imported on first use only. The
    verdict reads those references precomputed (``checks.EXPECTED``), and then never imports it (~1 s)."""
    import torch

    if settings.THREADS.is_set():  # the route's trusted steps: one thread per CPU of their quota
        torch.set_num_threads(settings.THREADS.value())
    return torch


def _torch_theta(theta: object) -> dict[str, Any]:
    torch = load_torch()
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in theta_arrays(theta).items()}


def _torch_relu_net(x: object, tt: dict[str, Any]) -> Any:
    torch = load_torch()
    xs = torch.as_tensor(np.asarray(x, dtype=np.float64))
    z = torch.relu(xs[..., None] * tt["W_H"] + tt["b_H"])  # relu'(0) = 0, the handout's convention
    return z @ tt["W_O"] + tt["b_O"]


def grad_f(x: float, theta: object) -> Theta:
    """Gradient of f(x, theta) for a number x, by torch autograd: {key: array}."""
    tt = _torch_theta(theta)
    _torch_relu_net(float(x), tt).backward()
    return {k: tt[k].grad.numpy() for k in THETA_KEYS}


def grad_loss(xs: object, ys: object, theta: object) -> Theta:
    """Gradient of sum_i (y_i - f(x_i))^2 by torch autograd."""
    torch = load_torch()
    tt = _torch_theta(theta)
    loss = ((torch.as_tensor(np.asarray(ys, dtype=np.float64)) - _torch_relu_net(xs, tt)) ** 2).sum()
    loss.backward()
    return {k: tt[k].grad.numpy() for k in THETA_KEYS}


def compare_grad_dict(actual: object, expected: Theta, what: str, dtype: str = "float64") -> None:
    if isinstance(actual, dict) and "@error" in actual:
        raise Mismatch(f"{what}: your code raised {actual['@error']}")
    if not isinstance(actual, dict) or set(actual) != set(THETA_KEYS):
        raise Mismatch(f"{what} must be a dict with exactly the keys {THETA_KEYS}")
    for key in THETA_KEYS:
        compare(actual[key], expected[key], f"{what}[{key!r}]", dtype=dtype, shape_matters=False)


# ---------------------------------------------------------------- Problem 4

FASHION_SIZES = (784, 256, 128, 64, 10)


def linear_chain(layers: Iterable[Layer], what: str = "the model") -> list[Layer] | None:
    """Orders handed-over Linear layers [(weight (out, in), bias (out,))] into the chain 784 -> ... -> 10.

    Students may register their layers in any order; the forward pass runs them as a chain.
    Returns None when they do not form the required chain.
    """
    remaining, chain, width = list(layers), list[Layer](), 784
    for n_out in FASHION_SIZES[1:]:
        match = [l for l in remaining if l[0].shape == (n_out, width) and l[1].shape == (n_out,)]
        if not match:
            return None
        chain.append(match[0])
        remaining.remove(match[0])
        width = n_out
    return chain if not remaining else None


def shape_chain(layers: Iterable[Layer]) -> list[Layer] | None:
    """Any Linear layers whose shapes chain 784 -> ... -> 10, in that order; None if they do not."""
    remaining, chain, width = list(layers), list[Layer](), 784
    while remaining:
        match = [l for l in remaining if l[0].shape[1] == width and l[1].shape == (l[0].shape[0],)]
        if not match:
            return None
        chain.append(match[0])
        remaining.remove(match[0])
        width = match[0][0].shape[0]
    return chain if chain and width == 10 else None


def fashion_logits(chain: Sequence[Layer], images: object, relu: Iterable[bool] | None = None) -> np.ndarray:
    """The grader's own 784-256-128-64-10 ReLU network with the student's weights, on uint8 images (N, 28, 28).

    float32, as torch computes it (numpy: the verdict need not import torch); ``relu``: which hidden layers are
    followed by a ReLU (default: all of them).
    """
    after = [True] * (len(chain) - 1) if relu is None else list(relu)
    a = np.asarray(images).reshape(-1, 784).astype(np.float32) / np.float32(255)  # as ToTensor makes them
    for i, (W, b) in enumerate(chain):
        a = a @ np.asarray(W, dtype=np.float32).T + np.asarray(b, dtype=np.float32)
        if i < len(chain) - 1 and after[i]:
            a = np.maximum(a, np.float32(0))
    return a


def log_softmax_rows(z: object) -> np.ndarray:
    shifted = np.asarray(z, dtype=np.float64)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    return np.asarray(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))


def softmax_rows(z: object) -> np.ndarray:
    return np.asarray(np.exp(log_softmax_rows(z)))


def fashion_output_readings(chain: Sequence[Layer], images: object) -> list[np.ndarray]:
    """What a model built from these Linear layers may output: its layers with a ReLU after every hidden layer,
    after none or after all but one, followed by nothing, a softmax or a log-softmax (float64, one per reading)."""
    hidden = len(chain) - 1
    masks = [[True] * hidden, [False] * hidden] + [[j != k for j in range(hidden)] for k in range(hidden)]
    readings = []
    for mask in masks:
        z = fashion_logits(chain, images, mask).astype(np.float64)
        readings += [z, softmax_rows(z), log_softmax_rows(z)]
    return readings


def fashion_accuracy(chain: Sequence[Layer], images: np.ndarray, labels: np.ndarray, chunk: int = 1000) -> float:
    correct = 0
    for start in range(0, len(images), chunk):
        logits = fashion_logits(chain, images[start : start + chunk])
        correct += int((logits.argmax(axis=1) == labels[start : start + chunk]).sum())
    return correct / len(images)


def torch_network(weights: Sequence[Layer]) -> tuple[Any, list[Any]]:
    """(Flatten -> Linear -> ReLU -> ... -> Linear as a torch Sequential, its Linear layers) holding ``weights``,
    a list of (W, b) with W of shape (out, in)."""
    torch = load_torch()
    layers = []
    for i, (W, _b) in enumerate(weights):
        layers.append(torch.nn.Linear(W.shape[1], W.shape[0]))
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(torch.nn.Flatten(), *layers)
    linear = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for m, (W, b) in zip(linear, weights):
            m.weight.copy_(torch.as_tensor(W))
            m.bias.copy_(torch.as_tensor(b))
    return model, linear


def fashion_reference_epoch(
    weights: Sequence[Layer],
    images: np.ndarray,
    labels: np.ndarray,
    lr: float,
    batch: int = 64,
    label_smoothing: float = 0.0,
) -> tuple[tuple[float, float], list[Layer]]:
    """One SGD epoch of the reference training step on the given batches, with a cross-entropy loss (label
    smoothing as given): ((mean loss over the images, mean of the batch losses), new weights). The two means differ
    when the last batch is partial; both are accepted."""
    torch = load_torch()
    model, linear = torch_network(weights)
    # torch.optim.SGD's own step (no momentum, no weight decay, CPU tensors: its single-tensor path) by hand:
    # the optimizer imports torch._dynamo on first use (~1 s of every verdict); bit-identical, tests/test_checks_unit.py
    parameters = list(model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    total, count, batch_means = 0.0, 0, []
    for start in range(0, len(images), batch):
        x = torch.as_tensor(images[start : start + batch]).float() / 255
        y = torch.as_tensor(labels[start : start + batch])
        for p in parameters:
            p.grad = None  # zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in parameters:
                p.add_(p.grad, alpha=-lr)
        total += loss.item() * len(y)
        count += len(y)
        batch_means.append(loss.item())
    return (total / count, float(np.mean(batch_means))), [
        (m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in linear
    ]


def fashion_reference_loss(
    weights: Sequence[Layer], images: np.ndarray, labels: object, batch: int = 64, label_smoothing: float = 0.0
) -> tuple[float, float]:
    """Mean cross-entropy (label smoothing as given) of the network on the given images: (over the images, over
    the 64-image batches)."""
    torch = load_torch()
    logits = torch.as_tensor(fashion_logits(weights, images))
    targets = torch.as_tensor(np.asarray(labels)).long()
    cross_entropy = functools.partial(torch.nn.functional.cross_entropy, label_smoothing=label_smoothing)
    per_image = float(cross_entropy(logits, targets).item())
    per_batch = [
        float(cross_entropy(logits[s : s + batch], targets[s : s + batch]).item())
        for s in range(0, len(targets), batch)
    ]
    return per_image, float(np.mean(per_batch))


# ---------------------------------------------------------------- Problem 5

MNIST_SIZES = (784, 32, 32, 10)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -500, 500))))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z))
    return np.asarray(e / e.sum())


def layer_arrays(
    weights: object, biases: object, sizes: Sequence[int], what: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Handed-over weight and bias lists as float64 arrays in the (n_out, n_in) layout."""
    for value, name in ((weights, "weights"), (biases, "biases")):
        if isinstance(value, dict) and "@error" in value:
            raise Mismatch(f"{what}: your code raised {value['@error']}")
        if not isinstance(value, list) or len(value) != len(sizes) - 1:
            raise Mismatch(f"{what}: expected {len(sizes) - 1} {name} (one per layer)")
    weights, biases = cast(list[object], weights), cast(list[object], biases)  # lists, checked just above
    Ws, bs = [], []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = as_float_array(weights[l], f"{what}: weights[{l}]")
        b = as_float_array(biases[l], f"{what}: biases[{l}]")
        if W.shape != (n_out, n_in):
            raise Mismatch(f"{what}: weights[{l}] has shape {W.shape}, expected (n_out, n_in) = {(n_out, n_in)}")
        if b.shape != (n_out,):
            raise Mismatch(f"{what}: biases[{l}] has shape {b.shape}, expected ({n_out},)")
        Ws.append(W)
        bs.append(b)
    return Ws, bs


def mnist_forward(x: object, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> np.ndarray:
    """Softmax output of the sigmoid network for one sample."""
    a = np.asarray(x, dtype=np.float64)
    for W, b in zip(weights[:-1], biases[:-1]):
        a = sigmoid(W @ a + b)
    return softmax(weights[-1] @ a + biases[-1])


def mnist_loss(x: object, label: int, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> float:
    return float(-np.log(mnist_forward(x, weights, biases)[label]))


def mnist_accuracy(
    images: np.ndarray,
    labels: np.ndarray,
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    chunk: int = 1000,
) -> float:
    """Accuracy of the numpy network on uint8 images (N, 784), raw 0-255 pixels."""
    correct = 0
    for start in range(0, len(images), chunk):
        a = np.asarray(images[start : start + chunk], dtype=np.float64).reshape(-1, 784)
        for W, b in zip(weights[:-1], biases[:-1]):
            a = sigmoid(a @ W.T + b)
        z = a @ weights[-1].T + biases[-1]
        correct += int((z.argmax(axis=1) == np.asarray(labels[start : start + chunk])).sum())
    return correct / len(images)


def mnist_backprop(
    x: object, label: int, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradients of the cross-entropy by torch autograd in float64: (dW list, db list)."""
    torch = load_torch()
    Ws = [torch.tensor(np.asarray(W, dtype=np.float64), requires_grad=True) for W in weights]
    bs = [torch.tensor(np.asarray(b, dtype=np.float64), requires_grad=True) for b in biases]
    a = torch.as_tensor(np.asarray(x, dtype=np.float64))
    for W, b in zip(Ws[:-1], bs[:-1]):
        a = torch.sigmoid(W @ a + b)
    loss = -torch.log_softmax(Ws[-1] @ a + bs[-1], dim=0)[label]
    loss.backward()
    return [W.grad.numpy() for W in Ws], [b.grad.numpy() for b in bs]


def mnist_train(
    images: Iterable[Any],
    labels: Iterable[Any],
    weights: Iterable[np.ndarray],
    biases: Iterable[np.ndarray],
    lr: float,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-sample SGD in order with the reference gradients (numpy, float64): new (weights, biases)."""
    Ws = [np.array(W, dtype=np.float64) for W in weights]
    bs = [np.array(b, dtype=np.float64) for b in biases]
    for x, y in zip(images, labels):
        activations = [np.asarray(x, dtype=np.float64)]
        pre = []
        for W, b in zip(Ws, bs):
            pre.append(W @ activations[-1] + b)
            activations.append(sigmoid(pre[-1]))
        delta = softmax(pre[-1])
        delta[int(y)] -= 1.0
        for l in reversed(range(len(Ws))):
            grad_W, grad_b = np.outer(delta, activations[l]), delta
            if l > 0:
                s = activations[l]
                delta = (Ws[l].T @ delta) * s * (1.0 - s)
            Ws[l] -= lr * grad_W
            bs[l] -= lr * grad_b
    return Ws, bs


def random_network(
    rng: np.random.Generator, sizes: Sequence[int], scale: float = 1.0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    weights = [rng.normal(0, scale / math.sqrt(n_in), size=(n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(0, 0.1, size=n_out) for n_out in sizes[1:]]
    return weights, biases
