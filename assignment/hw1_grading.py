"""Reference computations shared by the HW1 hidden tests.

This module ships only inside the autograder zip (``autograder_files``); it is
never part of the student release. Hidden tests import it so that every test
compares numbers the same way and builds references the same way.

Everything here is computed from scratch by the grader: nothing trusts a value
that the submission computed.
"""

import math
import os

import numpy as np

# ---------------------------------------------------------------- comparisons

# Tolerances per dtype: float64 references are exact up to rounding noise,
# float32 (torch models) accumulates more.
TOLERANCES = {
    np.dtype("float64"): dict(rtol=1e-7, atol=1e-9),
    np.dtype("float32"): dict(rtol=1e-4, atol=1e-5),
}


def as_float_array(value, what):
    """Converts numbers, lists, numpy arrays and torch tensors to a numpy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} should be numeric, got {type(value).__name__}") from None


def assert_close(actual, expected, what, dtype=np.float64, shape_matters=True):
    """Asserts that ``actual`` matches ``expected`` within the tolerance for ``dtype``.

    The message names what differs and where, never the expected value.
    """
    actual = as_float_array(actual, what)
    expected = np.asarray(expected, dtype=np.float64)
    if shape_matters and actual.shape != expected.shape:
        raise AssertionError(f"{what} has shape {actual.shape}, but shape {expected.shape} was expected")
    if not shape_matters:
        actual, expected = actual.reshape(-1), expected.reshape(-1)
        if actual.size != expected.size:
            raise AssertionError(f"{what} has {actual.size} entries, but {expected.size} were expected")
    if not np.all(np.isfinite(actual)):
        raise AssertionError(f"{what} contains NaN or infinite values")
    tol = TOLERANCES[np.dtype(dtype)]
    bad = ~np.isclose(actual, expected, **tol)
    if bad.any():
        raise AssertionError(
            f"{what} is wrong in {int(bad.sum())} of {bad.size} entries "
            f"(first at index {np.argwhere(bad)[0].tolist()})"
        )


def relative_error(a, b):
    """Relative error of two whole arrays, ||a - b|| / (||a|| + ||b||), safe when both are zero.

    Taken over the whole array, not entry by entry: entries near zero would otherwise
    compare rounding noise with rounding noise.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b)))


def centred_difference(f, array, index, h=1e-5):
    """(f(x + h) - f(x - h)) / 2h for one entry of ``array``, restored afterwards."""
    old = array[index]
    array[index] = old + h
    plus = f()
    array[index] = old - h
    minus = f()
    array[index] = old
    return (plus - minus) / (2 * h)


def fresh_rng(tag):
    """A generator that depends on the test, not on the submission's global RNG state."""
    return np.random.default_rng(sum((i + 1) * ord(c) for i, c in enumerate(tag)) + 20230929)


# ---------------------------------------------------------------- data

def data_dir():
    """The folder the notebook downloads to: $HW1_DATA_DIR, else ./data."""
    return os.environ.get("HW1_DATA_DIR", "data")


def load_test_split(name):
    """(images uint8 (N, 28, 28), labels int64 (N,)) of the real test split, as torch tensors."""
    import torchvision

    cls = {"FashionMNIST": torchvision.datasets.FashionMNIST, "MNIST": torchvision.datasets.MNIST}[name]
    try:
        ds = cls(data_dir(), train=False, download=True)
    except Exception as e:  # offline and not cached
        raise AssertionError(f"the grader could not load the {name} test set from {data_dir()!r}: {e}") from None
    return ds.data, ds.targets


# ---------------------------------------------------------------- Problem 3

THETA_KEYS = ("W_H", "b_H", "W_O", "b_O")


def theta_arrays(theta, what="theta"):
    """Validates a Problem 3 parameter dict and returns float64 arrays (4,), (4,), (4,), ()."""
    if not isinstance(theta, dict) or set(theta) != set(THETA_KEYS):
        raise AssertionError(f"{what} must be a dict with exactly the keys {THETA_KEYS}")
    arrays = []
    for key, shape in zip(THETA_KEYS, [(4,), (4,), (4,), ()]):
        a = as_float_array(theta[key], f"{what}[{key!r}]")
        if a.size != int(np.prod(shape)):
            raise AssertionError(f"{what}[{key!r}] must have {int(np.prod(shape))} entries")
        arrays.append(a.reshape(shape))
    return arrays


def reference_relu_net(x, theta):
    """f(x, theta) for the 4-unit network, vectorised over x."""
    W_H, b_H, W_O, b_O = theta_arrays(theta)
    x = np.asarray(x, dtype=np.float64)
    z = np.maximum(0.0, x[..., None] * W_H + b_H)
    return z @ W_O + b_O


def torch_theta(theta):
    import torch

    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in zip(THETA_KEYS, theta_arrays(theta))}


def torch_relu_net(x, tt):
    import torch

    x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    z = torch.relu(x[..., None] * tt["W_H"] + tt["b_H"])  # relu'(0) = 0, the handout's convention
    return z @ tt["W_O"] + tt["b_O"]


def autograd_grad_f(x, theta):
    """Gradient of f(x, theta) for scalar x, as a dict of numpy arrays."""
    tt = torch_theta(theta)
    torch_relu_net(float(x), tt).backward()
    return {k: tt[k].grad.numpy() for k in THETA_KEYS}


def autograd_grad_loss(xs, ys, theta):
    """Gradient of sum_i (y_i - f(x_i))^2, as a dict of numpy arrays."""
    import torch

    tt = torch_theta(theta)
    loss = ((torch.as_tensor(np.asarray(ys, dtype=np.float64)) - torch_relu_net(xs, tt)) ** 2).sum()
    loss.backward()
    return {k: tt[k].grad.numpy() for k in THETA_KEYS}


def random_theta(rng, integer=False):
    draw = (lambda size: rng.integers(-3, 4, size=size).astype(float)) if integer else (lambda size: rng.normal(size=size))
    return {"W_H": draw(4), "b_H": draw(4), "W_O": draw(4), "b_O": float(draw(1)[0])}


def assert_grad_dict(actual, expected, what):
    if not isinstance(actual, dict) or set(actual) != set(THETA_KEYS):
        raise AssertionError(f"{what} must be a dict with exactly the keys {THETA_KEYS}")
    for key in THETA_KEYS:
        assert_close(actual[key], expected[key], f"{what}[{key!r}]", shape_matters=False)


# ---------------------------------------------------------------- Problem 4

def fashion_accuracy(model):
    """Accuracy of ``model`` on all 10,000 FashionMNIST test images, measured here."""
    import torch

    images, labels = load_test_split("FashionMNIST")
    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), 500):
            x = images[start:start + 500].unsqueeze(1).float() / 255  # as ToTensor makes them
            correct += (model(x).argmax(dim=1) == labels[start:start + 500]).sum().item()
    model.train(was_training)
    return correct / len(images)


# ---------------------------------------------------------------- Problem 5

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def check_layers(weights, biases, sizes):
    """Validates the (n_out, n_in) layout that the notebook states."""
    if len(weights) != len(sizes) - 1 or len(biases) != len(sizes) - 1:
        raise AssertionError(f"expected {len(sizes) - 1} weight matrices and bias vectors")
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if np.shape(weights[l]) != (n_out, n_in):
            raise AssertionError(f"weights[{l}] has shape {np.shape(weights[l])}, expected (n_out, n_in) = {(n_out, n_in)}")
        if np.shape(biases[l]) != (n_out,):
            raise AssertionError(f"biases[{l}] has shape {np.shape(biases[l])}, expected ({n_out},)")


def reference_forward(x, weights, biases):
    """Softmax output of the sigmoid network for one sample."""
    a = np.asarray(x, dtype=np.float64)
    for W, b in zip(weights[:-1], biases[:-1]):
        a = sigmoid(W @ a + b)
    return softmax(weights[-1] @ a + biases[-1])


def reference_loss(x, label, weights, biases):
    return float(-np.log(reference_forward(x, weights, biases)[label]))


def reference_accuracy(images, labels, weights, biases, chunk=500):
    """Accuracy of the numpy network on uint8 images (N, 28, 28), in raw 0-255 pixels."""
    weights = [np.asarray(W, dtype=np.float64) for W in weights]
    biases = [np.asarray(b, dtype=np.float64) for b in biases]
    correct = 0
    for start in range(0, len(images), chunk):
        a = np.asarray(images[start:start + chunk], dtype=np.float64).reshape(-1, 784)
        for W, b in zip(weights[:-1], biases[:-1]):
            a = sigmoid(a @ W.T + b)
        z = a @ weights[-1].T + biases[-1]
        correct += int((z.argmax(axis=1) == np.asarray(labels[start:start + chunk])).sum())
    return correct / len(images)


def autograd_backprop(x, label, weights, biases):
    """Gradients of the cross-entropy by torch autograd in float64: (dW list, db list)."""
    import torch

    Ws = [torch.tensor(np.asarray(W, dtype=np.float64), requires_grad=True) for W in weights]
    bs = [torch.tensor(np.asarray(b, dtype=np.float64), requires_grad=True) for b in biases]
    a = torch.as_tensor(np.asarray(x, dtype=np.float64))
    for W, b in zip(Ws[:-1], bs[:-1]):
        a = torch.sigmoid(W @ a + b)
    loss = -torch.log_softmax(Ws[-1] @ a + bs[-1], dim=0)[label]
    loss.backward()
    return [W.grad.numpy() for W in Ws], [b.grad.numpy() for b in bs]


def random_network(rng, sizes, scale=1.0):
    weights = [rng.normal(0, scale / math.sqrt(n_in), size=(n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(0, 0.1, size=n_out) for n_out in sizes[1:]]
    return weights, biases
