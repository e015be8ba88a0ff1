"""Probes: the hidden tests that run in the student's kernel during grading.

A probe calls the student's code on inputs that the grader chose (read from
``$HW1_PROBE_INPUTS``) and hands back what it returned, as plain data (JSON and
``.npz``) in ``$HW1_HANDOVER``. It holds no expected value, no reference code
and makes no verdict: the grader checks the answers later, in a separate
process the student's code cannot reach. Where the grader swaps in its own
version of a student function (3(b)), the probe gets it as a table of values.

Outside the grader's sandbox (plain ``otter run``) there is nowhere to hand
answers to, and the probe fails: that route does not grade this assignment.
"""

import json
import os
import random
import traceback

import numpy as np


class NotGrading(AssertionError):
    pass


def _folders():
    handover, inputs = os.environ.get("HW1_HANDOVER"), os.environ.get("HW1_PROBE_INPUTS")
    if not handover or not inputs:
        raise NotGrading(
            "hidden tests only run through the autograder's run_autograder (see the README), not plain otter run"
        )
    return handover, inputs


def _inputs(question):
    _, folder = _folders()
    with np.load(os.path.join(folder, question + ".npz"), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _error(exc):
    """The student's exception as one line: its type, message and the line of their code that raised it."""
    text = f"{type(exc).__name__}: {exc}".strip()
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith("<ipython-input") or "ipykernel" in f.filename
    ]
    if frames:
        text += f" (in {frames[-1].name}: {frames[-1].line})"
    return {"@error": text[:400]}


_DTYPES = set()  # the float dtypes of the values handed over for the current question (plain() casts to float64)


def plain(value, depth=0):
    """A student's value as plain data: numbers, strings, arrays, lists and dicts of them.

    Floats are handed over as float64; the dtype they had is recorded in ``_DTYPES``, and ``probe`` hands the
    question's float dtypes over as ``@dtypes``, so that the grader's tolerance follows the student's precision.
    """
    if depth > 6:
        return {"@type": "nested too deeply"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        if isinstance(value, np.floating):
            _DTYPES.add(value.dtype.name)
        return value.item()
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            _DTYPES.add(value.dtype.name)
        if value.dtype.kind in "biuf":
            return np.array(value, dtype=np.float64 if value.dtype.kind == "f" else value.dtype)
        return {"@type": f"array of {value.dtype}"}
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    return {"@type": type(value).__name__}


def call(function, *args, **kwargs):
    """function(*args) as plain data, or the error it raised."""
    try:
        return plain(function(*args, **kwargs))
    except Exception as exc:  # the student's exception is an answer too
        return _error(exc)


def lookup(env, name):
    if name not in env:
        return None
    return env[name]


def _handover(question, answers):
    folder, _ = _folders()
    arrays = {}

    def strip(value):
        if isinstance(value, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"@array": key}
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    structure = strip(answers)
    np.savez(os.path.join(folder, question + ".npz"), **arrays)
    with open(os.path.join(folder, question + ".json"), "w") as f:
        json.dump(structure, f)


def probe(question, env):
    """Runs the probe of ``question`` against the notebook's globals ``env`` and hands the answers over."""
    inputs = _inputs(question)
    _DTYPES.clear()
    try:
        answers = PROBES[question](env, inputs)
    except Exception as exc:
        answers = {"@probe_error": _error(exc)["@error"]}
    if isinstance(answers, dict):
        answers["@dtypes"] = sorted(_DTYPES)
    _handover(question, answers)


def _missing(env, *names):
    missing = [n for n in names if n not in env]
    return {"@missing": missing} if missing else None


# ---------------------------------------------------------------- Problems 1 and 2


def probe_q1a(env, inp):
    f = lookup(env, "grad_squared_norm")
    return _missing(env, "grad_squared_norm") or {k: call(f, inp[k].copy()) for k in sorted(inp)}


def probe_q1b(env, inp):
    f = lookup(env, "best_mu")
    return _missing(env, "best_mu") or {k: call(f, inp[k].copy()) for k in sorted(inp)}


def probe_q2a(env, inp):
    if _missing(env, "l1_loss"):
        return _missing(env, "l1_loss")
    f, out = env["l1_loss"], {}
    for i in range(int(inp["cases"])):
        X, y, w = inp[f"X{i}"], inp[f"y{i}"], inp[f"w{i}"]
        out[f"flat{i}"] = call(f, X.copy(), y.copy(), w.copy())
        out[f"column{i}"] = call(f, X.copy(), y[:, None].copy(), w[:, None].copy())  # either convention is allowed
    return out


def probe_q2a_shapes(env, inp):
    if _missing(env, "l1_shapes"):
        return _missing(env, "l1_shapes")
    return {f"{n}x{d}": call(env["l1_shapes"], int(n), int(d)) for n, d in zip(inp["n"], inp["d"])}


def probe_q2b(env, inp):
    if _missing(env, "l1_closed_form_exists"):
        return _missing(env, "l1_closed_form_exists")
    value = env["l1_closed_form_exists"]
    return {"value": value if isinstance(value, bool) else {"@type": type(value).__name__}}


# ---------------------------------------------------------------- Problem 3

THETA_KEYS = ("W_H", "b_H", "W_O", "b_O")


def _theta(inp, prefix):
    """A parameter dict as the notebook builds theta0: numpy arrays of 4, and b_O a number."""
    return {
        "W_H": inp[prefix + "W_H"].copy(),
        "b_H": inp[prefix + "b_H"].copy(),
        "W_O": inp[prefix + "W_O"].copy(),
        "b_O": float(inp[prefix + "b_O"]),
    }


def probe_q3a(env, inp):
    return {
        name: plain(env[name]) if name in env else {"@missing": [name]} for name in ("theta_dataset1", "theta_dataset2")
    }


class _Table:
    """The grader's f and grad f at the points of one test case, looked up by x.

    Accepts everything the notebook allows the student's versions to accept:
    a number, a 0-d array, or (for relu_net) an array of inputs.
    """

    def __init__(self, xs, f_values, grads):
        self.xs, self.f_values, self.grads = xs, f_values, grads

    def index(self, x):
        i = int(np.argmin(np.abs(self.xs - x)))
        if not np.isclose(self.xs[i], x, rtol=1e-6, atol=1e-6):  # a float32 copy of a test point is that point
            raise ValueError(f"the grader's stand-in only knows f at this test's points, not at x={x!r}")
        return i

    @staticmethod
    def _note_dtype(x):
        """Code that computes in float32 hands the stand-ins float32 inputs: its answer is judged in float32."""
        if isinstance(x, (np.ndarray, np.floating)) and x.dtype.kind == "f":
            _DTYPES.add(x.dtype.name)

    def relu_net(self, x, theta=None):
        self._note_dtype(x)
        x = np.asarray(x, dtype=np.float64)
        values = np.array([self.f_values[self.index(v)] for v in x.reshape(-1)])
        return float(values[0]) if x.ndim == 0 else values.reshape(x.shape)

    def grad_f(self, x, theta=None):
        self._note_dtype(x)
        i = self.index(float(np.asarray(x, dtype=np.float64).reshape(-1)[0]))
        return {
            "W_H": self.grads["W_H"][i].copy(),
            "b_H": self.grads["b_H"][i].copy(),
            "W_O": self.grads["W_O"][i].copy(),
            "b_O": float(self.grads["b_O"][i]),
        }


def probe_q3b(env, inp):
    if _missing(env, "grad_loss"):
        return _missing(env, "grad_loss")
    out, saved = {}, {name: env.get(name) for name in ("relu_net", "grad_f")}
    try:
        for i in range(int(inp["cases"])):
            xs = inp[f"xs{i}"]
            table = _Table(xs, inp[f"f{i}"], {k: inp[f"g{i}_{k}"] for k in THETA_KEYS})
            env["relu_net"], env["grad_f"] = table.relu_net, table.grad_f
            out[f"case{i}"] = call(env["grad_loss"], xs.copy(), inp[f"ys{i}"].copy(), _theta(inp, f"t{i}_"))
    finally:
        for name, value in saved.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
    return out


def probe_q3c(env, inp):
    out = {"f_at_2": plain(env["f_at_2"]) if "f_at_2" in env else {"@missing": ["f_at_2"]}}
    if _missing(env, "relu_net"):
        return {**out, **_missing(env, "relu_net")}
    for i in range(int(inp["cases"])):
        out[f"case{i}"] = call(env["relu_net"], float(inp["xs"][i]), _theta(inp, f"t{i}_"))
    return out


def probe_q3d(env, inp):
    out = {"grad_at_2": plain(env["grad_at_2"]) if "grad_at_2" in env else {"@missing": ["grad_at_2"]}}
    if _missing(env, "grad_f"):
        return {**out, **_missing(env, "grad_f")}
    out["at_theta0"] = call(env["grad_f"], 2.0, _theta(inp, "theta0_"))
    for i in range(int(inp["cases"])):
        out[f"case{i}"] = call(env["grad_f"], float(inp["xs"][i]), _theta(inp, f"t{i}_"))
    return out


# ---------------------------------------------------------------- Problem 4


def _linear_layers(model):
    import torch

    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


def _layer_arrays(model):
    return [
        [plain(m.weight), plain(m.bias) if m.bias is not None else {"@type": "no bias"}] for m in _linear_layers(model)
    ]


def _model_outputs(model, images):
    """The model's outputs in eval mode under no_grad, its training mode restored."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return call(model, torch.as_tensor(images))
    finally:
        model.train(was_training)


def probe_q4_arch(env, inp):
    import torch

    model = env.get("model")
    if not isinstance(model, torch.nn.Module):
        return {"@missing": ["model (a torch.nn.Module)"]}
    return {"layers": _layer_arrays(model), "outputs": _model_outputs(model, inp["images"])}


def _standard_model(inp):
    """A network of the required shape, with the grader's weights: the input that train_epoch gets."""
    import torch

    layers = []
    for i in range(4):
        W = torch.as_tensor(inp[f"W{i}"])
        linear = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            linear.weight.copy_(W)
            linear.bias.copy_(torch.as_tensor(inp[f"b{i}"]))
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(torch.nn.Flatten(), *layers[:-1])


def _loader(images, labels, scaled=False):
    """64-image batches as the notebook's loaders serve them: uint8 images (batch, 1, 28, 28) and int64 labels
    (or, ``scaled``, the images already as ``to_input`` makes them: floats in [0, 1])."""
    import torch

    images = torch.as_tensor(images)
    if scaled:
        images = images.float() / 255
    dataset = torch.utils.data.TensorDataset(images, torch.as_tensor(labels).long())
    return torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=False)


def _loss_fn(inp):
    """The grader's own loss_fn: a cross-entropy with label smoothing, so that a function that uses the notebook's
    loss_fn instead of its argument shows."""
    import torch

    return torch.nn.CrossEntropyLoss(label_smoothing=float(inp["label_smoothing"]))


def _either_loader(run):
    """run(scaled) with the notebook's uint8 batches; if that raises, once more with scaled batches (a reading
    of the text that feeds the batches to the model as they come)."""
    result = run(False)
    if isinstance(result[0], dict) and "@error" in result[0]:
        retry = run(True)
        if not (isinstance(retry[0], dict) and "@error" in retry[0]):
            return retry
    return result


def probe_q4_train(env, inp):
    import torch

    missing = _missing(env, "train_epoch", "test_epoch")
    out = dict(missing or {})
    if "train_epoch" in env:

        def run(scaled):
            model = _standard_model(inp)
            optimizer = torch.optim.SGD(model.parameters(), lr=float(inp["lr"]))
            loss = call(
                env["train_epoch"],
                model,
                _loader(inp["train_images"], inp["train_labels"], scaled),
                _loss_fn(inp),
                optimizer,
            )
            return loss, _layer_arrays(model)

        out["train_loss"], out["layers"] = _either_loader(run)
    if "test_epoch" in env:

        def run(scaled):
            return (
                call(
                    env["test_epoch"],
                    _standard_model(inp),
                    _loader(inp["test_images"], inp["test_labels"], scaled),
                    _loss_fn(inp),
                ),
            )

        (out["test_loss"],) = _either_loader(run)
    return out


def probe_q4_acc(env, inp):
    import torch

    model = env.get("model")
    if not isinstance(model, torch.nn.Module):
        return {"@missing": ["model (a torch.nn.Module)"]}
    return {"layers": _layer_arrays(model)}


def probe_q4_probs(env, inp):
    import torch

    missing = _missing(env, "sample_idx", "sample_probs", "model")
    if missing:
        return missing
    if not isinstance(env["model"], torch.nn.Module):
        return {"@missing": ["model (a torch.nn.Module)"]}
    out = {
        "sample_idx": plain(env["sample_idx"]),
        "sample_probs": plain(env["sample_probs"]),
        "layers": _layer_arrays(env["model"]),
    }
    # the model's own outputs on the sampled images (the grader's copy of the test images, as to_input makes them)
    try:
        idx = np.asarray(out["sample_idx"], dtype=np.int64).reshape(-1)
        images = np.asarray(inp["test_images"])[idx][:, None].astype(np.float32) / 255
    except Exception as exc:
        out["outputs"] = _error(exc)
    else:
        out["outputs"] = _model_outputs(env["model"], images)
    return out


# ---------------------------------------------------------------- Problem 5


def _network(inp, prefix, layers=3):
    return ([inp[f"{prefix}W{l}"].copy() for l in range(layers)], [inp[f"{prefix}b{l}"].copy() for l in range(layers)])


def probe_q5_1(env, inp):
    if _missing(env, "init_params"):
        return _missing(env, "init_params")
    out = {}
    for i in range(int(inp["cases"])):
        sizes = [int(s) for s in inp[f"sizes{i}"]]
        out[f"case{i}"] = call(env["init_params"], sizes, int(inp["seeds"][i]))
    return out


def probe_q5_2(env, inp):
    out = dict(_missing(env, "forward_one", "evaluate") or {})
    if "forward_one" in env:
        for i in range(int(inp["cases"])):
            weights, biases = _network(inp, f"n{int(inp['net_of'][i])}_")
            out[f"case{i}"] = call(env["forward_one"], inp[f"x{i}"].copy(), int(inp["labels"][i]), weights, biases)
    if "evaluate" in env:
        weights, biases = _network(inp, "eval_")
        out["evaluate"] = call(env["evaluate"], inp["eval_X"].copy(), inp["eval_Y"].copy(), weights, biases)
    return out


def probe_q5_3(env, inp):
    out = dict(_missing(env, "backprop_one", "train_one_sample") or {})
    if "backprop_one" in env:
        for i in range(int(inp["cases"])):
            weights, biases = _network(inp, f"n{i}_")
            out[f"case{i}"] = call(env["backprop_one"], inp[f"x{i}"].copy(), int(inp["labels"][i]), weights, biases)
            out[f"unchanged{i}"] = bool(all(np.array_equal(w, inp[f"n{i}_W{l}"]) for l, w in enumerate(weights)))
        # the student's own gradient at the update case: train_one_sample's step is checked against it
        weights, biases = _network(inp, "update_")
        out["update_grad"] = call(
            env["backprop_one"], inp["update_x"].copy(), int(inp["update_label"]), weights, biases
        )
    if "train_one_sample" in env:
        weights, biases = _network(inp, "update_")
        result = call(
            env["train_one_sample"],
            inp["update_x"].copy(),
            int(inp["update_label"]),
            weights,
            biases,
            float(inp["update_lr"]),
        )
        out["update"] = result if isinstance(result, dict) and "@error" in result else plain([weights, biases])
    return out


class _Recorder:
    """The grader's stand-in for train_one_sample while train_one_epoch runs: it records each call (sample,
    label, learning rate) and takes a step the grader can predict (every bias entry down by the learning rate),
    so that train_one_epoch is judged on its own, whatever the student's train_one_sample does."""

    def __init__(self):
        self.xs, self.ys, self.rates = [], [], []

    def __call__(self, x, y, weights, biases, learning_rate=float("nan")):  # no default: a dropped rate shows
        self.xs.append(np.array(x, dtype=np.float64).reshape(-1))
        self.ys.append(float(np.asarray(y).reshape(-1)[0]) if np.size(y) == 1 else float("nan"))
        self.rates.append(float(learning_rate))
        for b in biases:
            b -= learning_rate
        return weights, biases  # for a train_one_epoch that uses what its train_one_sample returns


AUDITED_STEPS = 4  # steps of the student's own training whose update is checked against its own gradient


def copy_network(network):
    return [w.copy() for w in network[0]], [b.copy() for b in network[1]]


def probe_q5_4(env, inp):
    out = dict(_missing(env, "train_one_epoch", "train_one_sample") or {})
    lr = float(inp["lr"])
    if "train_one_epoch" in env:
        rate = float(inp["trajectory_lr"])  # the grader's own: a train_one_epoch that drops it shows
        weights, biases = _network(inp, "start_")
        recorder, saved = _Recorder(), env.get("train_one_sample")
        env["train_one_sample"] = recorder
        try:
            result = call(env["train_one_epoch"], inp["X"].copy(), inp["Y"].copy(), weights, biases, rate)
        finally:
            if saved is None:
                env.pop("train_one_sample", None)
            else:
                env["train_one_sample"] = saved
        if isinstance(result, dict) and "@error" in result:
            out["trajectory"] = result
        else:
            out["trajectory"] = {
                "calls": len(recorder.rates),
                "xs": np.array(recorder.xs) if recorder.xs else np.zeros((0, 784)),
                "ys": np.array(recorder.ys),
                "rates": np.array(recorder.rates),
                "end": plain([weights, biases]),
            }
    if "train_one_sample" in env:
        # the student's own training: train_one_sample over a secret sample of the training set, in order, from
        # the grader's weights (what the student's train_one_epoch does with it): does it learn?
        X, Y = inp["own_X"].copy(), inp["own_Y"].copy()
        weights, biases = _network(inp, "start_")
        # a few of its steps are audited (before, after, and the student's own gradient there, asked for once the
        # training is over): which ones is drawn now from the operating system's randomness, in no input file,
        # so that train_one_sample cannot tell an audited step from any other
        audited = set(random.SystemRandom().sample(range(len(X)), min(AUDITED_STEPS, len(X))))
        before, after = {}, {}
        try:
            for k, (x, y) in enumerate(zip(X, Y)):
                if k in audited:
                    before[k] = [
                        [np.array(w, dtype=np.float64) for w in weights],
                        [np.array(b, dtype=np.float64) for b in biases],
                    ]
                env["train_one_sample"](x, y, weights, biases, lr)
                if k in audited:
                    after[k] = plain([weights, biases])
        except Exception as exc:
            out["own"] = _error(exc)
        else:
            out["own"] = plain([weights, biases])
            if "backprop_one" in env:
                out["audits"] = [
                    {
                        "step": k,
                        "before": plain(before[k]),
                        "after": after[k],
                        "grad": call(env["backprop_one"], X[k].copy(), int(Y[k]), *copy_network(before[k])),
                    }
                    for k in sorted(before)
                ]
    if "weights" in env and "biases" in env:
        out["trained"] = plain([env["weights"], env["biases"]])
    return out


PROBES = {name[len("probe_") :]: f for name, f in globals().items() if name.startswith("probe_") and callable(f)}
