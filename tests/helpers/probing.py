"""What the in-process tests of the checks share (tests/test_checks_unit.py, tests/test_checks_each.py).

The trusted modules, loaded one way: the copy of the sources with the master notebook's points
(tests/helpers/trusted_copy.py). The verified datasets; every question's inputs drawn from the secret seed; the real
probes (``hw1_probes``, the student side's module) run in a namespace built from code, as a notebook's cells
would define it; and Problem 5's reference solution as that code.
"""

import os
import textwrap

import pytest
import torch

from tests.helpers import trusted_copy
from tools import ROOT
from tools.trusted import load_probes

# One thread for the in-process probes and references: the same numbers whatever the thread count, and on a busy
# machine 2 threads that wait for each other at every small matrix product make these tests 20% slower (measured
# beside two CPU hogs on 2 cores: 79 s against 65 s for the two modules; the same 42 s on an idle machine).
torch.set_num_threads(1)
hw1_probes = load_probes()  # the student side's module, under the name the notebook imports it by

checks, handover, I, R, verdict = (
    trusted_copy.module(m) for m in ("checks", "handover", "inputs", "reference", "verdict")
)
Mismatch = R.Mismatch
DATASETS = I.Datasets()


def _have_data():
    try:
        DATASETS("MNIST", "test")
        DATASETS("FashionMNIST", "test")
        return True
    except Exception:
        return False


requires_data = pytest.mark.skipif(not _have_data(), reason="the verified datasets are not installed")


def draw_inputs(folder):
    """Every question's inputs, drawn from the secret seed into ``folder/inputs``; returns ``folder``."""
    (folder / "inputs").mkdir()
    for question in checks.CASES:
        I.save(folder / "inputs", question, I.generate(question, DATASETS))
    return folder


def run_probes(work, answers, env, questions):
    """Runs the real probes of ``questions`` in ``env``: the hand-over files land in ``answers``."""
    old = {k: os.environ.get(k) for k in ("HW1_HANDOVER", "HW1_PROBE_INPUTS")}
    os.environ["HW1_HANDOVER"], os.environ["HW1_PROBE_INPUTS"] = str(answers), str(work / "inputs")
    try:
        for question in questions:
            hw1_probes.probe(question, env)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def namespace(*sources, **names):
    """A student's namespace: ``names``, the notebook's imports, then each source executed in it."""
    env = dict(names)
    exec("import numpy as np\nimport torch\nimport torch.nn as nn\nSEED = 42\n", env)
    for source in sources:
        exec(textwrap.dedent(source), env)
    return env


# ---------------------------------------------------------------- Problem 5's reference, as code


def _notebook_helpers():
    """The notebook's own Problem 5 helpers (sigmoid, softmax, one_hot, ...), as the student release gives them."""
    import nbformat

    nb = nbformat.read(ROOT / "assignment" / "hw1.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "def sigmoid_prime(" in c.source]
    return "\n" + cell.source + "\n"


P5_HELPERS = _notebook_helpers()

P5_FLOAT64 = """
def init_params(sizes, seed):
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(rng.normal(0.0, np.sqrt(1.0 / max(n_in, n_out)), size=(n_out, n_in)))
        biases.append(np.zeros(n_out))
    return weights, biases


def forward_one(x, y, weights, biases):
    a = np.asarray(x, dtype=float)
    for W, b in zip(weights[:-1], biases[:-1]):
        a = sigmoid(W @ a + b)
    y_hat = softmax(weights[-1] @ a + biases[-1])
    return -np.log(y_hat[y]), one_hot(np.argmax(y_hat))


def evaluate(X, Y, weights, biases):
    results = [forward_one(x, y, weights, biases) for x, y in zip(X, Y)]
    return np.mean([r[0] for r in results]), np.mean([np.argmax(r[1]) == y for r, y in zip(results, Y)])


def backprop_one(x, y, weights, biases):
    activations, zs = [np.asarray(x, dtype=float)], []
    for W, b in zip(weights, biases):
        zs.append(W @ activations[-1] + b)
        activations.append(sigmoid(zs[-1]))
    delta = softmax(zs[-1]) - one_hot(y)
    grad_weights, grad_biases = [None] * 3, [None] * 3
    for l in reversed(range(3)):
        grad_weights[l] = np.outer(delta, activations[l])
        grad_biases[l] = delta
        if l > 0:
            delta = (weights[l].T @ delta) * sigmoid_prime(zs[l - 1])
    return grad_weights, grad_biases


def train_one_sample(x, y, weights, biases, learning_rate=0.003):
    grad_weights, grad_biases = backprop_one(x, y, weights, biases)
    for l in range(len(weights)):
        weights[l] -= learning_rate * grad_weights[l]
        biases[l] -= learning_rate * grad_biases[l]


def train_one_epoch(X, Y, weights, biases, learning_rate=0.003):
    for x, y in zip(X, Y):
        train_one_sample(x, y, weights, biases, learning_rate)
"""

# the same in float32 throughout (deep learning's default precision): a correct submission
TRAIN_OWN_WEIGHTS = """
_mnist = DATASETS("MNIST", "train")
weights, biases = init_params([784, 32, 32, 10], 80085)
train_one_epoch(_mnist[0][:20000].reshape(-1, 784), _mnist[1][:20000], weights, biases, 0.003)
"""
