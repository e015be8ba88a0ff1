"""The hidden checks called in-process, without the route: fast, for every reading and every finding.

Each test builds a student's namespace from code (as a notebook's cells would define it), runs the real probe
of a question on the real inputs drawn from the secret seed (``hw1_probes.probe`` writes the real hand-over
files), reads them back with the trusted side's reader and calls the question's checks from ``checks.CASES``
with a real ``verdict.Context``. Nothing is mocked; the datasets are the verified ones in /opt/hw1-data.
"""

import os
import textwrap

import numpy as np
import pytest

from tests.helpers.probing import (
    DATASETS,
    P5_FLOAT64,
    P5_HELPERS,
    TRAIN_OWN_WEIGHTS,
    I,
    Mismatch,
    R,
    checks,
    draw_inputs,
    handover,
    hw1_probes,
    namespace,
    requires_data,
    run_probes,
    verdict,
)

pytestmark = requires_data


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Every question's inputs, drawn once from the secret seed."""
    return draw_inputs(tmp_path_factory.mktemp("work"))


def verdicts(work, tmp_path, env, *questions):
    """{question: {what: None if passed else message}} for the given questions, each probed in ``env``."""
    answers = tmp_path / "answers"
    answers.mkdir(exist_ok=True)
    run_probes(work, answers, env, questions)
    ctx = verdict.Context(DATASETS, work, answers)
    result = {}
    for question in questions:
        ctx.cache = {}
        inp, out = ctx.inputs(question), ctx.answers(question)
        result[question] = {}
        for what, _, check in checks.CASES[question]:
            try:
                check(inp, out, ctx)
                result[question][what] = None
            except Mismatch as error:
                result[question][what] = str(error)
    return result


def failed(result, question):
    return sorted(what for what, message in result[question].items() if message is not None)


# ---------------------------------------------------------------- Problem 5, in float64 and in float32


P5_FLOAT32 = """
def init_params(sizes, seed):
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(rng.normal(0.0, np.sqrt(1.0 / max(n_in, n_out)), size=(n_out, n_in)).astype(np.float32))
        biases.append(np.zeros(n_out, dtype=np.float32))
    return weights, biases


def forward_one(x, y, weights, biases):
    a = np.asarray(x, dtype=np.float32)
    for W, b in zip(weights[:-1], biases[:-1]):
        a = sigmoid(W.astype(np.float32) @ a + b.astype(np.float32))
    y_hat = softmax(weights[-1].astype(np.float32) @ a + biases[-1].astype(np.float32))
    return -np.log(y_hat[y]), one_hot(np.argmax(y_hat)).astype(np.float32)


def evaluate(X, Y, weights, biases):
    results = [forward_one(x, y, weights, biases) for x, y in zip(X, Y)]
    return np.float32(np.mean([r[0] for r in results])), np.mean([np.argmax(r[1]) == y for r, y in zip(results, Y)])


def backprop_one(x, y, weights, biases):
    Ws = [np.asarray(W, dtype=np.float32) for W in weights]
    bs = [np.asarray(b, dtype=np.float32) for b in biases]
    activations, zs = [np.asarray(x, dtype=np.float32)], []
    for W, b in zip(Ws, bs):
        zs.append(W @ activations[-1] + b)
        activations.append(sigmoid(zs[-1]))
    delta = softmax(zs[-1])
    delta[y] -= 1
    grad_weights, grad_biases = [None] * 3, [None] * 3
    for l in reversed(range(3)):
        grad_weights[l] = np.outer(delta, activations[l])
        grad_biases[l] = delta
        if l > 0:
            delta = (Ws[l].T @ delta) * sigmoid_prime(zs[l - 1])
    return grad_weights, grad_biases


def train_one_sample(x, y, weights, biases, learning_rate=0.003):
    grad_weights, grad_biases = backprop_one(x, y, weights, biases)
    for l in range(len(weights)):
        weights[l] -= np.float32(learning_rate) * grad_weights[l]
        biases[l] -= np.float32(learning_rate) * grad_biases[l]


def train_one_epoch(X, Y, weights, biases, learning_rate=0.003):
    for x, y in zip(X, Y):
        train_one_sample(x, y, weights, biases, learning_rate)
"""

P5 = ("q5_1", "q5_2", "q5_3", "q5_4")


def p5_env(code, *extra, train=True):
    env = namespace(P5_HELPERS, code, *extra)
    if train:
        env["DATASETS"] = DATASETS
        exec(TRAIN_OWN_WEIGHTS, env)
    return env


def _edit(source, old, new):
    assert source.count(old) == 1, old
    return source.replace(old, new)


@pytest.mark.parametrize("code", [P5_FLOAT64, P5_FLOAT32], ids=["float64", "float32"])
def test_p5_correct_in_either_precision_gets_every_check(work, tmp_path, code):
    result = verdicts(work, tmp_path, p5_env(code), *P5)
    assert {q: failed(result, q) for q in P5} == {q: [] for q in P5}, result


def test_float32_answers_are_handed_over_with_their_dtype(work, tmp_path):
    answers = tmp_path / "answers"
    answers.mkdir()
    run_probes(work, answers, p5_env(P5_FLOAT32, train=False), ["q5_3"])
    # read as the verdict reads it: every handed-over string comes back marked as the student's
    assert R.precision(handover.read(answers, "q5_3")) == "float32"
    run_probes(work, answers, p5_env(P5_FLOAT64, train=False), ["q5_3"])
    assert R.precision(handover.read(answers, "q5_3")) == "float64"


def test_float64_tolerance_still_applies_to_float64_answers(work, tmp_path):
    # float32 gradients handed over as float64 arrays (cast at the end): the float64 tolerances apply, and the
    # float32 rounding fails them; so the precision is read from the answer, not granted to everyone
    code = _edit(
        P5_FLOAT32,
        "    return grad_weights, grad_biases",
        "    return [g.astype(np.float64) for g in grad_weights], [g.astype(np.float64) for g in grad_biases]",
    )
    result = verdicts(work, tmp_path, p5_env(code, train=False), "q5_3")
    assert "gradients against autograd" in failed(result, "q5_3")


SIGMOID_PRIME_OF_A = ("sigmoid_prime(zs[l - 1])", "sigmoid_prime(activations[l])")


def test_sigmoid_prime_of_a_loses_only_the_gradient_checks(work, tmp_path):
    result = verdicts(work, tmp_path, p5_env(_edit(P5_FLOAT64, *SIGMOID_PRIME_OF_A)), "q5_3", "q5_4")
    assert failed(result, "q5_3") == ["gradients against autograd", "gradients against centred differences"]
    assert failed(result, "q5_4") == []


def test_bias_not_updated_loses_only_the_update_check(work, tmp_path):
    code = _edit(P5_FLOAT64, "        biases[l] -= learning_rate * grad_biases[l]\n", "")
    result = verdicts(work, tmp_path, p5_env(code), "q5_3", "q5_4")
    assert failed(result, "q5_3") == ["train_one_sample's update"]
    assert failed(result, "q5_4") == []


def test_shuffling_train_one_epoch_loses_q5_4_only(work, tmp_path):
    code = _edit(
        P5_FLOAT64,
        "    for x, y in zip(X, Y):\n        train_one_sample",
        "    order = np.random.default_rng(0).permutation(len(Y))\n    for x, y in zip(X[order], Y[order]):\n        train_one_sample",
    )
    result = verdicts(work, tmp_path, p5_env(code), "q5_3", "q5_4")
    assert failed(result, "q5_3") == []
    assert len(failed(result, "q5_4")) == 2


def test_a_learning_rate_that_is_not_passed_on_loses_that_question_only(work, tmp_path):
    # the rates that the grader hands over are its own, not the notebook's 0.003 or a round default: a function
    # that drops the one it is given (and so runs with its default) shows
    dropped = _edit(
        P5_FLOAT64,
        "        train_one_sample(x, y, weights, biases, learning_rate)",
        "        train_one_sample(x, y, weights, biases)",
    )
    result = verdicts(work, tmp_path, p5_env(dropped), "q5_3", "q5_4")
    assert failed(result, "q5_3") == []
    assert len(failed(result, "q5_4")) == 2
    assert (
        "does not pass its learning_rate on"
        in result["q5_4"]["train_one_epoch calls train_one_sample once per sample, in order"]
    )
    for constant in ("0.003", "0.01"):  # train_one_sample that steps with a constant of its own
        fixed = _edit(P5_FLOAT64, "-= learning_rate * grad_weights[l]", f"-= {constant} * grad_weights[l]")
        fixed = _edit(fixed, "-= learning_rate * grad_biases[l]", f"-= {constant} * grad_biases[l]")
        result = verdicts(work, tmp_path, p5_env(fixed, train=False), "q5_3")
        assert failed(result, "q5_3") == ["train_one_sample's update"], (constant, result)


def test_wrong_variance_fails_only_the_statistics(work, tmp_path):
    for std in ("1.0 / max(n_in, n_out)", "np.sqrt(1.0 / n_in)"):
        code = _edit(P5_FLOAT64, "np.sqrt(1.0 / max(n_in, n_out))", std)
        result = verdicts(work, tmp_path, p5_env(code, train=False), "q5_1")
        assert failed(result, "q5_1") == ["mean and variance"], (std, result)


def test_other_draws_fail_the_draws_check(work, tmp_path):
    code = _edit(P5_FLOAT64, "size=(n_out, n_in)))", "size=(n_in, n_out)).T)")
    result = verdicts(work, tmp_path, p5_env(code, train=False), "q5_1")
    assert failed(result, "q5_1") == ["the draws of default_rng(seed)"]


def test_nan_weights_fail_draws_and_statistics(work, tmp_path):
    code = _edit(P5_FLOAT64, "size=(n_out, n_in)))", "size=(n_out, n_in)) * np.nan)")
    result = verdicts(work, tmp_path, p5_env(code, train=False), "q5_1")
    assert failed(result, "q5_1") == ["mean and variance", "the draws of default_rng(seed)"]


# cheats that the consistency checks must stop

AUTOGRAD_UPDATE = """
def train_one_sample(x, y, weights, biases, learning_rate=0.003):
    # backprop_one is broken: update with torch's gradients instead
    Ws = [torch.tensor(np.asarray(W, dtype=np.float64), requires_grad=True) for W in weights]
    bs = [torch.tensor(np.asarray(b, dtype=np.float64), requires_grad=True) for b in biases]
    a = torch.as_tensor(np.asarray(x, dtype=np.float64))
    for W, b in zip(Ws[:-1], bs[:-1]):
        a = torch.sigmoid(W @ a + b)
    loss = -torch.log_softmax(Ws[-1] @ a + bs[-1], dim=0)[int(y)]
    grads = torch.autograd.grad(loss, Ws + bs)
    for l in range(3):
        weights[l] -= learning_rate * grads[l].numpy()
        biases[l] -= learning_rate * grads[3 + l].numpy()
"""

ZERO_BACKPROP = """
def backprop_one(x, y, weights, biases):
    return [np.zeros_like(W) for W in weights], [np.zeros_like(b) for b in biases]
"""

PLANTED_WEIGHTS = """
_mnist = DATASETS("MNIST", "train")
weights, biases = init_params([784, 32, 32, 10], 80085)
_reference_code = {"np": np}
exec(REFERENCE_P5, _reference_code)
_reference_code["train_one_epoch"](_mnist[0][:20000].reshape(-1, 784), _mnist[1][:20000], weights, biases, 0.003)
"""


def test_autograd_update_with_broken_backprop_earns_nothing_from_it(work, tmp_path):
    broken = _edit(
        P5_FLOAT64, "delta = (weights[l].T @ delta) * sigmoid_prime(zs[l - 1])", "delta = weights[l].T @ delta"
    )
    env = p5_env(broken, AUTOGRAD_UPDATE)
    result = verdicts(work, tmp_path, env, "q5_3", "q5_4")
    assert "train_one_sample's update" in failed(result, "q5_3")
    assert failed(result, "q5_4") == [f"trained weights reach {checks.P5_ACCURACY_BAR:.2f} test accuracy"]


def test_weights_trained_elsewhere_do_not_count_when_own_training_does_not_learn(work, tmp_path):
    env = namespace(P5_HELPERS, P5_FLOAT64, ZERO_BACKPROP)
    env.update(DATASETS=DATASETS, REFERENCE_P5=textwrap.dedent(P5_HELPERS + P5_FLOAT64))
    exec(PLANTED_WEIGHTS, env)  # a correct training run's weights, planted
    result = verdicts(work, tmp_path, env, "q5_3", "q5_4")
    assert failed(result, "q5_4") == [f"trained weights reach {checks.P5_ACCURACY_BAR:.2f} test accuracy"]
    assert "your train_one_sample, run by the grader" in result["q5_4"][failed(result, "q5_4")[0]]


def test_train_one_epoch_with_autograd_is_inconsistent(work, tmp_path):
    code = (
        P5_FLOAT64
        + """
def train_one_epoch(X, Y, weights, biases, learning_rate=0.003):
    for x, y in zip(X, Y):
        _autograd_step(x, y, weights, biases, learning_rate)
"""
        + AUTOGRAD_UPDATE.replace("def train_one_sample", "def _autograd_step")
    )
    broken = _edit(code, "delta = (weights[l].T @ delta) * sigmoid_prime(zs[l - 1])", "delta = weights[l].T @ delta")
    result = verdicts(work, tmp_path, p5_env(broken), "q5_4")
    assert len(failed(result, "q5_4")) == 2


def test_train_one_epoch_is_judged_with_the_grader_stand_in(work, tmp_path):
    # a train_one_sample that does nothing: train_one_epoch's loop is still right (error carried forward), but
    # two do-nothing stubs earn nothing: the stand-in's steps must reach the lists train_one_epoch was given
    noop = P5_FLOAT64 + "\n\ndef train_one_sample(x, y, weights, biases, learning_rate=0.003):\n    pass\n"
    result = verdicts(work, tmp_path, p5_env(noop, train=False), "q5_4")
    assert "train_one_epoch calls train_one_sample once per sample, in order" not in failed(result, "q5_4")
    both = noop + "\n\ndef train_one_epoch(X, Y, weights, biases, learning_rate=0.003):\n    pass\n"
    result = verdicts(work, tmp_path, p5_env(both, train=False), "q5_4")
    assert len(failed(result, "q5_4")) == 2
    copies = _edit(
        P5_FLOAT64,
        "        train_one_sample(x, y, weights, biases, learning_rate)",
        "        train_one_sample(x, y, [w.copy() for w in weights], [b.copy() for b in biases], learning_rate)",
    )
    result = verdicts(work, tmp_path, p5_env(copies, train=False), "q5_4")
    assert "in place" in result["q5_4"]["train_one_epoch calls train_one_sample once per sample, in order"]
    rescaled = _edit(
        P5_FLOAT64,
        "        train_one_sample(x, y, weights, biases, learning_rate)",
        "        train_one_sample(x / 255.0, y, weights, biases, learning_rate)",
    )
    result = verdicts(work, tmp_path, p5_env(rescaled, train=False), "q5_4")
    assert len(failed(result, "q5_4")) == 2


def test_zero_gradient_and_a_step_that_does_nothing_fail_the_update(work, tmp_path):
    code = (
        P5_FLOAT64 + ZERO_BACKPROP + "\n\ndef train_one_sample(x, y, weights, biases, learning_rate=0.003):\n    pass\n"
    )
    result = verdicts(work, tmp_path, p5_env(code, train=False), "q5_3")
    assert "train_one_sample's update" in failed(result, "q5_3")


# ---------------------------------------------------------------- Problem 3 in float32

P3_FLOAT32 = """
def relu_net(x, theta):
    t = {k: np.asarray(v, dtype=np.float32) for k, v in theta.items()}
    z = np.maximum(np.float32(0), np.multiply.outer(np.asarray(x, dtype=np.float32), t["W_H"]) + t["b_H"])
    return z @ t["W_O"] + t["b_O"]


def grad_f(x, theta):
    t = {k: np.asarray(v, dtype=np.float32) for k, v in theta.items()}
    x = np.float32(x)
    z_bar = x * t["W_H"] + t["b_H"]
    dz_bar = t["W_O"] * (z_bar > 0)
    return {"W_H": dz_bar * x, "b_H": dz_bar, "W_O": np.maximum(z_bar, np.float32(0)), "b_O": np.float32(1.0)}


def grad_loss(xs, ys, theta):
    xs = np.asarray(xs, dtype=np.float32)
    residual = np.asarray(ys, dtype=np.float32) - relu_net(xs, theta)
    grads = [grad_f(x, theta) for x in xs]
    return {k: -2 * sum(r * g[k] for r, g in zip(residual, grads)) for k in ("W_H", "b_H", "W_O", "b_O")}


theta0 = {"W_H": np.array([-1.0, 1.0, 1.0, -1.0]), "b_H": np.array([1.0, 1.0, -1.0, 1.0]),
          "W_O": np.array([-1.0, -1.0, -1.0, 1.0]), "b_O": 1.0}
f_at_2 = relu_net(2, theta0)
grad_at_2 = grad_f(2, theta0)
"""


def test_p3_in_float32_gets_every_check(work, tmp_path):
    result = verdicts(work, tmp_path, namespace(P3_FLOAT32), "q3b", "q3c", "q3d")
    assert {q: failed(result, q) for q in result} == {"q3b": [], "q3c": [], "q3d": []}, result


def test_p3_wrong_in_float32_still_fails(work, tmp_path):
    code = _edit(P3_FLOAT32, '"W_H": dz_bar * x', '"W_H": dz_bar')
    result = verdicts(work, tmp_path, namespace(code), "q3d")
    assert failed(result, "q3d") == ["gradient at x = 2, theta0", "gradient on random theta"]


# ---------------------------------------------------------------- Problem 4

P4_MODEL = """
class FashionMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                                 nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x.view(-1, 28 * 28))


torch.manual_seed(0)
model = FashionMLP()


def to_input(images):
    return images.float() / 255


_images = DATASETS("FashionMNIST", "test")[0]
"""

PROBS = """
rng = np.random.default_rng(SEED)
sample_idx = @PICK@
model.eval()
with torch.no_grad():
    outputs = model(to_input(torch.as_tensor(_images[np.asarray(sample_idx)]).unsqueeze(1)))
sample_probs = torch.softmax(outputs, dim=1).numpy()
"""


def p4_env(*sources):
    env = namespace("DATASETS = None")
    env["DATASETS"] = DATASETS
    for source in (P4_MODEL,) + sources:
        exec(textwrap.dedent(source), env)
    return env


@pytest.mark.parametrize(
    "pick", ["rng.choice(10000, size=3, replace=False)", "rng.permutation(10000)[:3]", "rng.integers(0, 10000, size=3)"]
)
def test_q4_probs_any_draw_of_three_indices(work, tmp_path, pick):
    result = verdicts(work, tmp_path, p4_env(PROBS.replace("@PICK@", pick)), "q4_probs")
    assert failed(result, "q4_probs") == []


def test_q4_probs_softmax_in_forward_is_judged_on_its_own_outputs(work, tmp_path):
    forward = "return torch.softmax(self.net(x.view(-1, 28 * 28)), dim=1)"
    env = p4_env(PROBS.replace("@PICK@", "rng.choice(10000, size=3, replace=False)"))
    code = _edit(P4_MODEL, "return self.net(x.view(-1, 28 * 28))", forward)
    env = p4_env(PROBS.replace("@PICK@", "rng.choice(10000, size=3, replace=False)"))
    env2 = namespace("DATASETS = None")
    env2["DATASETS"] = DATASETS
    exec(textwrap.dedent(code), env2)
    exec(textwrap.dedent(PROBS.replace("@PICK@", "rng.choice(10000, size=3, replace=False)")), env2)
    result = verdicts(work, tmp_path, env2, "q4_probs")
    assert failed(result, "q4_probs") == []
    assert failed(verdicts(work, tmp_path, env, "q4_probs"), "q4_probs") == []


def test_q4_probs_logits_and_forged_outputs_fail(work, tmp_path):
    env = p4_env(
        PROBS.replace("@PICK@", "rng.choice(10000, size=3, replace=False)") + "\nsample_probs = outputs.numpy()\n"
    )
    assert failed(verdicts(work, tmp_path, env, "q4_probs"), "q4_probs") == [
        "a probability distribution per image",
        "the softmax of the model's outputs",
    ]
    # uniform probabilities with model outputs forged to match them (their log), patched into the probe
    env = p4_env(
        PROBS.replace("@PICK@", "rng.choice(10000, size=3, replace=False)") + "\nsample_probs = np.full((3, 10), 0.1)\n"
    )
    saved = hw1_probes._model_outputs
    hw1_probes._model_outputs = lambda model, images: np.log(np.full((len(images), 10), 0.1))
    try:
        result = verdicts(work, tmp_path, env, "q4_probs")
    finally:
        hw1_probes._model_outputs = saved
    assert failed(result, "q4_probs") == ["the softmax of the model's outputs"]


TRAIN_EPOCH = """
def train_epoch(model, loader, loss_fn, optimizer, scheduler=None):
    model.train()
    losses, sizes = [], []
    for images, labels in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(@INPUT@), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        sizes.append(len(labels))
    return @MEAN@


def test_epoch(model, loader, loss_fn):
    model.eval()
    losses, sizes = [], []
    with torch.no_grad():
        for images, labels in loader:
            losses.append(loss_fn(model(@INPUT@), labels).item())
            sizes.append(len(labels))
    return @MEAN@
"""
PER_BATCH, PER_IMAGE = "float(np.mean(losses))", "float(np.dot(losses, sizes) / sum(sizes))"


@pytest.mark.parametrize("mean", [PER_BATCH, PER_IMAGE], ids=["per_batch", "per_image"])
@pytest.mark.parametrize("feed", ["to_input(images)", "images"], ids=["raw_batches", "scaled_batches"])
def test_q4_train_every_reading(work, tmp_path, mean, feed):
    code = TRAIN_EPOCH.replace("@MEAN@", mean).replace("@INPUT@", feed)
    result = verdicts(work, tmp_path, p4_env(code), "q4_train")
    assert failed(result, "q4_train") == []


def test_q4_train_means_differ_on_the_grader_batches(work):
    inp = verdict.Context(DATASETS, work, work).inputs("q4_train")
    assert len(inp["train_labels"]) % 64 and len(inp["test_labels"]) % 64, "the last batches must be partial"
    chain = [(inp[f"W{i}"], inp[f"b{i}"]) for i in range(4)]
    (per_image, per_batch), _ = R.fashion_reference_epoch(
        chain, inp["train_images"], inp["train_labels"], float(inp["lr"])
    )
    assert not np.isclose(per_image, per_batch, **R.TOLERANCES["float32"])


def test_q4_train_functions_that_use_the_notebooks_loss_fn_fail(work, tmp_path):
    # the grader hands over a loss_fn of its own (label smoothing): the notebook's plain cross-entropy is not it
    code = TRAIN_EPOCH.replace("@MEAN@", PER_BATCH).replace("@INPUT@", "to_input(images)")
    code = (
        code.replace("loss_fn(model(", "notebook_loss_fn(model(") + "\nnotebook_loss_fn = torch.nn.CrossEntropyLoss()\n"
    )
    result = verdicts(work, tmp_path, p4_env(code), "q4_train")
    assert sorted(failed(result, "q4_train")) == ["test_epoch: mean loss", "train_epoch: one SGD epoch"]


def test_q4_train_dropping_the_last_batch_fails(work, tmp_path):
    code = TRAIN_EPOCH.replace("@MEAN@", PER_BATCH).replace("@INPUT@", "to_input(images)")
    code = _edit(
        code,
        "    for images, labels in loader:\n        optimizer",
        "    for images, labels in list(loader)[:-1]:\n        optimizer",
    )
    result = verdicts(work, tmp_path, p4_env(code), "q4_train")
    assert failed(result, "q4_train") == ["train_epoch: one SGD epoch"]


def test_q4_train_a_hand_over_without_layers_compares_nothing_and_fails(work):
    ctx = verdict.Context(DATASETS, work, work)
    inp = ctx.inputs("q4_train")
    chain = [(inp[f"W{i}"], inp[f"b{i}"]) for i in range(4)]
    (per_image, _), _ = R.fashion_reference_epoch(chain, inp["train_images"], inp["train_labels"], float(inp["lr"]))
    for layers in ([], [[chain[0][0], chain[0][1]]]):
        with pytest.raises(Mismatch, match="dense layers"):
            checks.q4_train_epoch(inp, {"train_loss": per_image, "layers": layers}, ctx)
    with pytest.raises(Mismatch, match="NaN"):
        checks.q4_train_epoch(inp, {"train_loss": float("nan"), "layers": []}, ctx)


def test_missing_or_nan_parts_of_a_hand_over_fail(work):
    ctx = verdict.Context(DATASETS, work, work)
    inp = ctx.inputs("q5_4")
    n = inp["X"].shape[0]
    rate = float(inp["trajectory_lr"])
    start = [[inp[f"start_W{l}"] for l in range(3)], [inp[f"start_b{l}"] - n * rate for l in range(3)]]
    good = {
        "calls": n,
        "xs": inp["X"].astype(float),
        "ys": inp["Y"].astype(float),
        "rates": np.full(n, rate),
        "end": start,
    }
    checks.q5_4_trajectory(inp, {"trajectory": good}, ctx)
    for key in good:  # every part is compared: a missing one is a failure
        with pytest.raises(Mismatch):
            checks.q5_4_trajectory(inp, {"trajectory": {k: v for k, v in good.items() if k != key}}, ctx)
    nan_end = [[start[0][0] * np.nan] + start[0][1:], start[1]]
    for bad in ({**good, "end": nan_end}, {**good, "rates": np.full(n, np.nan)}, {**good, "xs": good["xs"][:-1]}):
        with pytest.raises(Mismatch):
            checks.q5_4_trajectory(inp, {"trajectory": bad}, ctx)
    inp3 = ctx.inputs("q5_3")
    with pytest.raises(Mismatch):  # no gradient handed over: the update is not judged against nothing
        checks.q5_3_update(
            inp3, {"update": [[inp3[f"update_W{l}"] for l in range(3)], [inp3[f"update_b{l}"] for l in range(3)]]}, ctx
        )


def test_every_check_fails_on_an_empty_or_partial_hand_over(work):
    """Audit (issue 15): no check passes by comparing less than it promises."""
    ctx = verdict.Context(DATASETS, work, work)
    for question, cases in checks.CASES.items():
        inp = ctx.inputs(question)
        for _what, _, check in cases:
            for out in ({}, {"@dtypes": ["float32"]}, {"layers": [], "trained": [[], []], "own": [[], []]}):
                ctx.cache = {}
                with pytest.raises(Mismatch):
                    check(inp, out, ctx)


def test_nan_answers_fail_where_numbers_are_compared(work):
    ctx = verdict.Context(DATASETS, work, work)
    inp = ctx.inputs("q3c")
    out = {f"case{i}": float("nan") for i in range(int(inp["cases"]))}
    out["f_at_2"] = float("nan")
    with pytest.raises(Mismatch, match="NaN"):
        checks.q3c_forward(inp, out, ctx)
    inp = ctx.inputs("q4_probs")
    probs = np.full((3, 10), 0.1)
    probs[0, 0] = np.nan
    with pytest.raises(Mismatch):
        checks.q4_probs_distribution(inp, {"sample_idx": [1, 2, 3], "sample_probs": probs}, ctx)


def _torch_optim_sgd_epoch(weights, images, labels, lr, label_smoothing, batch=64):
    """The reference epoch as it was written with torch.optim.SGD, to hold the by-hand step to it."""
    import torch

    model, linear = R.torch_network(weights)  # the reference's own network, so only the step differs
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    losses = []
    for start in range(0, len(images), batch):
        x = torch.as_tensor(images[start : start + batch]).float() / 255
        y = torch.as_tensor(labels[start : start + batch])
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append((loss.item(), len(y)))
    return losses, [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in linear]


@pytest.mark.parametrize("images", [None, 3000], ids=["grader_batches", "3000_training_images"])
def test_q4_reference_epoch_by_hand_is_torch_optim_sgd_bit_for_bit(work, images):
    inp = verdict.Context(DATASETS, work, work).inputs("q4_train")
    chain = [(inp[f"W{i}"], inp[f"b{i}"]) for i in range(4)]
    x, y = inp["train_images"], inp["train_labels"]
    if images is not None:  # a longer epoch: any difference in the step would grow over its 47 batches
        x, y = DATASETS("FashionMNIST", "train")
        x, y = x[:images][:, None], y[:images]
    lr, smoothing = float(inp["lr"]), float(inp["label_smoothing"])
    (per_image, per_batch), weights = R.fashion_reference_epoch(chain, x, y, lr, label_smoothing=smoothing)
    losses, expected = _torch_optim_sgd_epoch(chain, x, y, lr, smoothing)
    assert per_image == sum(l * n for l, n in losses) / len(y)
    assert per_batch == float(np.mean([l for l, _ in losses]))
    for (W, b), (eW, eb) in zip(weights, expected, strict=True):
        assert W.tobytes() == eW.tobytes() and b.tobytes() == eb.tobytes()
    assert not all(W.tobytes() == W0.tobytes() for (W, _), (W0, _) in zip(weights, chain)), "the epoch moved nothing"


def _otter_grading_results(graded, flags, autograder_id):
    """results.pkl as it was built with Otter itself, to hold the Otter-free writer to it."""
    import json

    from otter.test_files import GradingResults

    results = GradingResults.from_ottr_json(json.dumps({"test_file_results": verdict.otter_files(graded)}))
    results.set_plugin_data("hw1", verdict.otter_plugin_data(flags, autograder_id))
    return results


def _attributes(obj, seen=None):
    """An object's whole graph as plain data: each instance's class (module, name) and attributes."""
    if isinstance(obj, dict):
        return {k: _attributes(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_attributes(v) for v in obj]
    if hasattr(obj, "__dict__"):
        return {"@class": (type(obj).__module__, type(obj).__qualname__), **_attributes(vars(obj))}
    return obj


def test_results_pkl_without_otter_is_otter_own_grading_results(work, tmp_path):
    import dill

    points = {q: 2 + n for n, q in enumerate(checks.CASES)}  # shares of the checks' own weights
    graded = {}
    for n, question in enumerate(checks.CASES):  # passes and failures, messages with the student's marked text
        cases = checks.case_points(question, points)
        graded[question] = [
            (
                what,
                share,
                (n + k) % 3 != 0,
                "" if (n + k) % 3 else f"wrong: {handover.STUDENT_OPEN}x{handover.STUDENT_CLOSE}",
            )
            for k, (what, share, _) in enumerate(cases)
        ]
    flags = ["q4_acc: test accuracy above the training accuracy"]
    verdict.write(tmp_path, graded, ["a note"], flags, "abc123")
    with open(tmp_path / "results.pkl", "rb") as f:
        written = dill.load(f)  # as otter grade's host reads it
    expected = _otter_grading_results(graded, flags, "abc123")
    assert _attributes(written) == _attributes(expected)
    assert written.to_dict() == expected.to_dict() and written.total == expected.total
    assert written.possible == expected.possible and written.get_plugin_data("hw1")["flags"] == flags
    # shared objects stay shared, as Otter's own pickle keeps them: each result's case is its file's case
    for test_file in written.results.values():
        assert all(r.test_case is c for r, c in zip(test_file.test_case_results, test_file.test_cases, strict=True))
    assert 0 < written.total < written.possible


@pytest.mark.skipif(os.geteuid() != 0, reason="the inputs' cache is root's only")
def test_cached_inputs_are_the_drawn_ones_and_a_changed_file_is_never_used(work, tmp_path, monkeypatch):
    monkeypatch.setattr(I, "CACHE_ROOT", tmp_path / "cache")
    questions, zip_id = ["q3b", "q5_3"], "ab" * 32
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    for question in questions:
        I.save(drawn, question, I.generate(question, DATASETS))
    assert not I.from_cache(tmp_path, questions, zip_id)  # nothing stored yet
    assert I.cached_expected(zip_id) is None
    computed = {q: checks.EXPECTED[q](I.load(drawn, q)) for q in questions}
    I.to_cache(drawn, questions, zip_id, DATASETS, lambda: 1 / 0)  # references that fail: nothing is stored
    assert not I.from_cache(tmp_path, questions, zip_id) and list((tmp_path / "cache").iterdir()) == []
    I.to_cache(drawn, questions, zip_id, DATASETS, lambda: computed)
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    copied = tmp_path / "copied"
    copied.mkdir()
    assert I.from_cache(copied, questions, zip_id)
    for question in questions:
        assert (copied / f"{question}.npz").read_bytes() == (drawn / f"{question}.npz").read_bytes()
    verdict_data = I.Datasets(tmp_path / "no-data")  # reads nothing but the cache
    assert I.cached_datasets(verdict_data, zip_id)
    for name, split in I.VERDICT_SPLITS:
        for got, expected in zip(verdict_data(name, split), DATASETS(name, split), strict=True):
            assert np.array_equal(got, expected) and got.dtype == expected.dtype
    for name in I.VERDICT_SAMPLES:
        images, labels = DATASETS(name, "train")
        pick = np.sort(I.rng_for(f"{name} training sample").choice(len(images), size=10000, replace=False))
        got = verdict_data.training_sample(name)
        assert np.array_equal(got[0], images[pick]) and np.array_equal(got[1], labels[pick])
    with pytest.raises(I.data.DataMissing):  # anything else of the datasets: read from the (empty) data folder
        verdict_data("MNIST", "train")
    # the references computed from these inputs come back as they were computed, every array and dtype
    cached = I.cached_expected(zip_id)
    assert set(cached) == set(questions)
    flat_cached, flat_computed = I.flatten(cached), I.flatten(computed)
    assert set(flat_cached) == set(flat_computed) and len(flat_computed) > 20
    for key, value in flat_computed.items():
        assert np.array_equal(flat_cached[key], value) and flat_cached[key].dtype == value.dtype, key
    assert not (copied / I.EXPECTED_FILE).exists()  # never copied beside the probes' inputs
    assert not I.from_cache(copied, [*questions, "q1a"], zip_id)  # another question list: not this cache
    assert not I.from_cache(copied, questions, "cd" * 32)  # another zip
    assert not I.from_cache(copied, questions, "../" + "a" * 61)  # not an id
    stored = tmp_path / "cache" / zip_id / "q5_3.npz"
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 2] ^= 1  # one bit changed: fails its SHA-256
    stored.write_bytes(bytes(raw))
    assert not I.from_cache(tmp_path / "copied", questions, zip_id)
    stored = tmp_path / "cache" / zip_id / I.DATASETS_FILE
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 3] ^= 1
    stored.write_bytes(bytes(raw))
    assert not I.cached_datasets(I.Datasets(tmp_path / "no-data"), zip_id)
    stored = tmp_path / "cache" / zip_id / I.EXPECTED_FILE
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 2] ^= 1
    stored.write_bytes(bytes(raw))
    assert I.cached_expected(zip_id) is None  # the verdict then computes its own
    stored = tmp_path / "cache" / zip_id / "q5_3.npz"
    os.chmod(tmp_path / "cache", 0o755)  # a cache that others could reach is never read
    stored.write_bytes((drawn / "q5_3.npz").read_bytes())
    assert not I.from_cache(tmp_path / "copied", questions, zip_id)
    os.chmod(tmp_path / "cache", 0o700)
    assert I.from_cache(tmp_path / "copied", questions, zip_id)
