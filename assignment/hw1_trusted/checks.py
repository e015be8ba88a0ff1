"""The hidden checks: every verdict, made in the trusted phase from the handed-over answers.

``CASES`` lists each autograded question's checks with their *weights*: a check earns
its share of the question's points. The points themselves are written once, in the
master notebook's question settings; the build copies them into ``points.json`` beside
this module (``case_points``), so a changed point value reaches the verdict unchanged.
Each check returns None when it passes, or a message for the student that says what is
wrong and where, never the expected value.
"""

import numpy as np

from . import inputs as I
from . import reference as R
from .policy import P4_BARS, P5_ACCURACY_BAR
from .reference import Mismatch, compare, precision

P4_CEILING, P5_CEILING = 0.92, 0.80  # test accuracies above what the notebook's training reaches are flagged
P5_UPDATE_RTOL = {"float64": 1e-7, "float32": 1e-4}  # train_one_sample's step against -lr x its own gradient (norms)
P5_FD_RTOL = {"float64": 1e-6, "float32": 1e-3}  # analytic gradient against float64 centred differences (norms):
# float64 code agrees to about 1e-8, float32 code to about 1e-5; the closest wrong gradient is off by more than 1e-1
TEST_SET_FLAG_MARGIN = 0.02  # test accuracy this far above training accuracy is flagged


def answered(out, *keys):
    """Raises Mismatch when the probe found nothing to call or could not run."""
    if out is None:
        raise Mismatch("no answer was handed over: the notebook stopped before this question's check")
    if "@refused" in out:
        raise Mismatch(f"the handed-over answers were refused: {out['@refused']}")
    if "@missing" in out:
        raise Mismatch(f"the notebook does not define {', '.join(out['@missing'])}")
    if "@probe_error" in out:
        raise Mismatch(f"your code could not be called as the question describes: {out['@probe_error']}")
    for key in keys:
        if key not in out:
            raise Mismatch(f"no answer was handed over for {key}")


# ---------------------------------------------------------------- Problems 1 and 2


def q1a_gradient(inp, out, ctx):
    answered(out)
    for key in sorted(inp):
        x = inp[key].copy()
        numeric = [R.centred_difference(lambda: float(x @ x), x, i) for i in range(x.size)]
        compare(out.get(key), numeric, f"grad_squared_norm on a random {x.size}-vector", dtype="float32")


def q1b_minimiser(inp, out, ctx):
    answered(out)
    for key in sorted(inp):
        X = inp[key]
        n, d = X.shape
        mu = R.as_float_array(out.get(key), f"best_mu(X) for X of shape {(n, d)}")
        if mu.shape != (d,):
            raise Mismatch(f"best_mu(X) has shape {mu.shape} for X of shape {(n, d)}; see the question for the shape")
        gradient = -2 * (X - mu).sum(axis=0) / n
        compare(
            gradient, np.zeros(d), f"the objective's gradient at best_mu(X) for X of shape {(n, d)}", dtype="float32"
        )


def q2a_loss(inp, out, ctx):
    answered(out)
    for i in range(int(inp["cases"])):
        X, y, w = inp[f"X{i}"], inp[f"y{i}"], inp[f"w{i}"]
        expected = np.abs(X @ w - y).sum()
        ok, problems = False, []
        for convention in ("flat", "column"):
            value = out.get(f"{convention}{i}")
            try:
                v = R.as_float_array(value, "l1_loss")
                if v.ndim != 0:
                    raise Mismatch(f"l1_loss returned shape {v.shape}, not a single number")
                compare(v, expected, "l1_loss", dtype=precision(out))
                ok = True
            except Mismatch as error:
                problems.append(str(error))
        if not ok:
            raise Mismatch(
                f"l1_loss is wrong on random inputs with n={X.shape[0]}, d={X.shape[1]} (tried 1-D and column vectors: {problems[0]})"
            )


def q2a_shapes(inp, out, ctx):
    answered(out)
    for n, d in zip(inp["n"], inp["d"]):
        n, d = int(n), int(d)
        shapes = out.get(f"{n}x{d}")
        if isinstance(shapes, dict) and "@error" in shapes:
            raise Mismatch(f"l1_shapes({n}, {d}) raised {shapes['@error']}")
        if not isinstance(shapes, dict) or set(shapes) != {"X", "y", "w", "loss"}:
            raise Mismatch('l1_shapes must return a dict with keys "X", "y", "w", "loss"')
        try:
            s = {k: tuple(int(x) for x in v) for k, v in shapes.items()}
        except (TypeError, ValueError):
            raise Mismatch("each shape must be a tuple of ints") from None
        if s["X"] != (n, d):
            raise Mismatch(f"the shape of X is wrong for n={n}, d={d}")
        if (s["y"], s["w"]) not in (((n,), (d,)), ((n, 1), (d, 1))):
            raise Mismatch(f"the shapes of y and w are wrong or inconsistent for n={n}, d={d}")
        if s["loss"] != ():
            raise Mismatch(f"the shape of the loss is wrong for n={n}, d={d}")


Q2B_ANSWER = False


def q2b_answer(inp, out, ctx):
    answered(out, "value")
    if not isinstance(out["value"], bool):
        raise Mismatch("l1_closed_form_exists must be a bool")
    if out["value"] is not Q2B_ANSWER:
        raise Mismatch("l1_closed_form_exists is not correct")


# ---------------------------------------------------------------- Problem 3

DATASETS_3A = {
    "theta_dataset1": (np.arange(13.0), np.array([8, 6, 4, 2, 0, 2, 4, 2, 0, 2, 4, 6, 8], dtype=float)),
    "theta_dataset2": (np.arange(11.0), np.array([0, 1, 2, 3, 2, 1, 1.5, 2, 2.5, 3, 3.5])),
}


def _fit(name):
    def check(inp, out, ctx):
        answered(out, name)
        if isinstance(out[name], dict) and "@missing" in out[name]:
            raise Mismatch(f"the notebook does not define {name}")
        xs, ys = DATASETS_3A[name]
        fit = R.relu_net(xs, R.theta_arrays(out[name], name))
        missed = int((~np.isclose(fit, ys, rtol=0, atol=1e-6)).sum())
        if missed:
            raise Mismatch(f"{name} misses {missed} of the {len(xs)} data points")

    return check


def q3b_grad_loss(inp, out, ctx):
    answered(out)
    for i in range(int(inp["cases"])):
        expected = ctx.expected("q3b")[f"case{i}"]
        R.compare_grad_dict(
            out.get(f"case{i}"), expected, f"grad_loss on {inp[f'xs{i}'].size} random points", precision(out)
        )


def q3c_forward(inp, out, ctx):
    answered(out, "f_at_2")
    for i in range(int(inp["cases"])):
        theta, x = I.theta_from(inp, f"t{i}_"), float(inp["xs"][i])
        compare(
            out.get(f"case{i}"),
            R.relu_net(x, theta),
            "relu_net on random theta and x",
            dtype=precision(out),
            shape_matters=False,
        )
    if isinstance(out["f_at_2"], dict) and "@missing" in out["f_at_2"]:
        raise Mismatch("the notebook does not define f_at_2")
    compare(out["f_at_2"], R.relu_net(2.0, I.HANDOUT_THETA0), "f_at_2", dtype=precision(out), shape_matters=False)


def q3d_at_theta0(inp, out, ctx):
    answered(out, "grad_at_2")
    expected = ctx.expected("q3d")["theta0"]
    if isinstance(out["grad_at_2"], dict) and "@missing" in out["grad_at_2"]:
        raise Mismatch("the notebook does not define grad_at_2")
    R.compare_grad_dict(out["grad_at_2"], expected, "grad_at_2", precision(out))
    R.compare_grad_dict(out.get("at_theta0"), expected, "grad_f(2, theta0)", precision(out))


def q3d_random(inp, out, ctx):
    answered(out)
    for i in range(int(inp["cases"])):
        kind = "an integer theta and x" if i >= 10 else "a random theta and x"
        R.compare_grad_dict(
            out.get(f"case{i}"),
            ctx.expected("q3d")[f"case{i}"],
            f"grad_f on {kind} (case {i + 1} of {int(inp['cases'])})",
            precision(out),
        )


# ---------------------------------------------------------------- Problem 4


def _layers(value, what):
    """Handed-over Linear layers as float32 (weight, bias) pairs."""
    if not isinstance(value, list):
        raise Mismatch(f"{what}: no dense layers were found")
    layers = []
    for k, pair in enumerate(value):
        W = R.as_float_array(pair[0], f"{what}: the weight of dense layer {k}").astype(np.float32)
        b = R.as_float_array(pair[1], f"{what}: the bias of dense layer {k}").astype(np.float32)
        layers.append((W, b))
    return layers


def _chain(out, what):
    layers = _layers(out.get("layers"), what)
    chain = R.linear_chain(layers)
    if chain is None:
        raise Mismatch(f"{what}: the dense layers do not form 784 -> 256 -> 128 -> 64 -> 10")
    return chain


def q4_arch_sizes(inp, out, ctx):
    answered(out, "layers")
    sizes = [tuple(int(n) for n in reversed(W.shape)) for W, _ in _layers(out["layers"], "the model")]
    if sizes != [(784, 256), (256, 128), (128, 64), (64, 10)]:
        raise Mismatch(
            f"the dense layers (in_features, out_features) are {sizes}; see the question for the required sizes"
        )


def _relu_chain(out, what):
    """The student's own layers, in the order their shapes chain 784 -> ... -> 10, whatever their sizes."""
    chain = R.shape_chain(_layers(out.get("layers"), what))
    if chain is None:
        raise Mismatch(f"{what}: the dense layers do not chain from 784 inputs to 10 outputs")
    return chain


def q4_arch_forward(inp, out, ctx):
    answered(out, "outputs")
    chain = _relu_chain(out, "the model")  # sizes are the other check's: a wrong size costs only that one
    images = inp["images"].reshape(-1, 784) * 255  # fashion_logits divides by 255
    expected = R.fashion_logits(chain, images)
    compare(
        out["outputs"],
        expected,
        "the model's output on random images (is there a ReLU after each hidden layer, and none after the output?)",
        dtype="float32",
    )


def _standard_chain(inp):
    return [(inp[f"W{i}"], inp[f"b{i}"]) for i in range(4)]


def _either_mean(value, means, what):
    """A mean loss: over the images or over the batches (they differ when the last batch is partial)."""
    problems = []
    for mean in means:
        try:
            compare(value, mean, what, dtype="float32", shape_matters=False)
            return
        except Mismatch as error:
            problems.append(str(error))
    raise Mismatch(problems[0])


def q4_train_epoch(inp, out, ctx):
    answered(out, "train_loss", "layers")
    epoch = ctx.expected("q4_train")["epoch"]
    means, weights = epoch["means"], [(epoch[f"W{k}"], epoch[f"b{k}"]) for k in range(len(R.FASHION_SIZES) - 1)]
    _either_mean(
        out["train_loss"],
        means,
        "the mean training loss that train_epoch returns (one SGD epoch on the grader's batches)",
    )
    layers = _layers(out["layers"], "train_epoch")
    if len(layers) != len(weights):  # every layer is compared: a hand-over with fewer compares less
        raise Mismatch(f"train_epoch: the model handed back has {len(layers)} dense layers, not {len(weights)}")
    for k, ((W, b), (eW, eb)) in enumerate(zip(layers, weights)):
        compare(
            W,
            eW,
            f"the weights of dense layer {k} after train_epoch (one SGD epoch on the grader's batches)",
            dtype="float32",
        )
        compare(b, eb, f"the bias of dense layer {k} after train_epoch", dtype="float32")


def q4_test_epoch(inp, out, ctx):
    answered(out, "test_loss")
    means = ctx.expected("q4_train")["test_means"]
    _either_mean(out["test_loss"], means, "the mean loss that test_epoch returns on the grader's test batches")


def training_sample(ctx, name):
    """A secret random sample of the training set: a submission cannot know which images it is compared on."""
    return ctx.datasets.training_sample(name)


def flag_test_set(ctx, question, test, train, ceiling):
    if test > train + TEST_SET_FLAG_MARGIN:
        ctx.flag(
            f"{question}: test accuracy {test:.4f} is above the accuracy on 10,000 random training images ({train:.4f}): "
            "the model may have been trained on the test set"
        )
    elif test > ceiling:
        ctx.flag(
            f"{question}: test accuracy {test:.4f} is above {ceiling:.2f}, more than the notebook's training reaches: "
            "the model may have been trained on the test set"
        )


def _fashion_accuracy(out, ctx):
    if "fashion" not in ctx.cache:
        chain = _chain(out, "the trained model")
        test = R.fashion_accuracy(chain, *ctx.datasets("FashionMNIST", "test"))
        train = R.fashion_accuracy(chain, *training_sample(ctx, "FashionMNIST"))
        flag_test_set(ctx, "q4_acc", test, train, P4_CEILING)
        ctx.cache["fashion"] = test
    return ctx.cache["fashion"]


def _fashion_bar(bar):
    def check(inp, out, ctx):
        answered(out, "layers")
        accuracy = _fashion_accuracy(out, ctx)
        if accuracy < bar:
            raise Mismatch(
                f"test accuracy {accuracy:.4f} (measured by the grader with your trained weights) is below {bar:.2f}"
            )

    return check


def _probs(out):
    probs = R.as_float_array(out["sample_probs"], "sample_probs")
    if probs.shape != (3, 10):
        raise Mismatch(f"sample_probs has shape {probs.shape}, not (3, 10)")
    return probs


def q4_probs_distribution(inp, out, ctx):
    answered(out, "sample_idx", "sample_probs")
    probs = _probs(out)
    idx = R.as_float_array(out["sample_idx"], "sample_idx").reshape(-1)
    if idx.size != 3 or len(set(idx.tolist())) != 3 or not all(float(i).is_integer() and 0 <= i < 10000 for i in idx):
        raise Mismatch("sample_idx must be 3 distinct indices into testdata")
    if np.any(probs < 0):
        raise Mismatch("sample_probs has negative entries")
    compare(probs.sum(axis=1), np.ones(3), "the row sums of sample_probs", dtype="float32")


def q4_probs_softmax(inp, out, ctx):
    answered(out, "sample_idx", "sample_probs", "layers")
    probs = _probs(out)
    images = ctx.datasets("FashionMNIST", "test")[0]
    idx = R.as_float_array(out["sample_idx"], "sample_idx").reshape(-1)
    if idx.size != 3 or not all(float(i).is_integer() and 0 <= i < len(images) for i in idx):
        raise Mismatch("sample_idx must be 3 indices into testdata")
    chain, sampled = _relu_chain(out, "the trained model"), images[idx.astype(int)]
    # the class probabilities: the softmax of the logits of the model's Linear layers in the grader's own
    # Linear -> ReLU -> ... -> Linear, or the softmax of what the student's own model outputs (error carried
    # forward: a model that already ends in a softmax gets the softmax of that). Those outputs come from the
    # student's kernel, so they count only if they are what some model made of these Linear layers outputs.
    targets = [R.softmax_rows(R.fashion_logits(chain, sampled))]
    try:
        outputs = R.as_float_array(out.get("outputs"), "the model's outputs on the sampled images")
    except Mismatch:
        outputs = None
    if outputs is not None and outputs.shape == (3, 10) and np.all(np.isfinite(outputs)):
        for reading in R.fashion_output_readings(chain, sampled):
            if np.allclose(outputs, reading, **R.TOLERANCES["float32"]):
                targets.append(R.softmax_rows(outputs))
                break
    problems = []
    for target in targets:
        try:
            compare(
                probs,
                target,
                "sample_probs (the softmax of the model's outputs on the sampled images)",
                dtype="float32",
            )
            return
        except Mismatch as error:
            problems.append(str(error))
    raise Mismatch(problems[0])


# ---------------------------------------------------------------- Problem 5


def _init_case(inp, out, i):
    sizes = [int(s) for s in inp[f"sizes{i}"]]
    value = out.get(f"case{i}")
    what = f"init_params({sizes}, seed)"
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"{what} raised {value['@error']}")
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch(f"{what} must return the pair (weights, biases)")
    return sizes, R.layer_arrays(value[0], value[1], sizes, what)


def q5_1_shapes(inp, out, ctx):
    answered(out)
    for i in range(int(inp["cases"])):
        sizes, (_, biases) = _init_case(inp, out, i)
        if not all(np.all(b == 0) for b in biases):
            raise Mismatch(f"init_params({sizes}, seed): the biases must start at zero")


def q5_1_statistics(inp, out, ctx):
    answered(out)
    for i in range(int(inp["cases"])):
        sizes, (weights, _) = _init_case(inp, out, i)
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            # sample variance of m draws from N(0, s2) has standard deviation s2 * sqrt(2 / m): 6 of them
            # bound a correct draw with probability 1 - 2e-9. The variance first, then the mean at the
            # sample's own spread, so that a wrong variance is reported as such.
            w, m, s2 = weights[l], n_in * n_out, 1.0 / max(n_in, n_out)
            if not np.all(np.isfinite(w)):
                raise Mismatch(f"layer {l} of {sizes}: the weights contain NaN or infinite values")
            if not abs(w.var() - s2) <= 6 * s2 * np.sqrt(2 / m):
                raise Mismatch(f"layer {l} of {sizes}: the weights' variance is not 1/max(n_in, n_out)")
            if not abs(w.mean()) <= 6 * np.sqrt(w.var() / m):
                raise Mismatch(f"layer {l} of {sizes}: the weights' mean is not 0")


def q5_1_draws(inp, out, ctx):
    """The draws of default_rng(seed), one normal call per layer in order, up to the scale the student used:
    a wrong variance costs only the statistics check."""
    answered(out)
    tolerance = R.TOLERANCES[precision(out)]
    for i in range(int(inp["cases"])):
        sizes, (weights, _) = _init_case(inp, out, i)
        rng = np.random.default_rng(int(inp["seeds"][i]))
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            # rng.normal(0, std, size) is std times rng.normal(0, 1, size) (numpy scales one standard draw)
            z = rng.normal(0.0, 1.0, size=(n_out, n_in))
            w = weights[l]
            scale = float((w * z).sum() / (z * z).sum()) if np.all(np.isfinite(w)) else float("nan")
            if not scale > 0 or not np.allclose(w, scale * z, rtol=tolerance["rtol"], atol=1e-6 * scale):
                raise Mismatch(
                    f"init_params({sizes}, seed): weights[{l}] are not the draws that the question describes"
                )


def _forward_answer(value, what):
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"{what} raised {value['@error']}")
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch(f"{what} must return the pair (loss, guess)")
    return value


def q5_2_forward(inp, out, ctx):
    answered(out)
    for i in range(int(inp["cases"])):
        weights, biases = I.network_from(inp, f"n{int(inp['net_of'][i])}_")
        label = int(inp["labels"][i])
        loss, guess = _forward_answer(out.get(f"case{i}"), "forward_one")
        probs = R.mnist_forward(inp[f"x{i}"], weights, biases)
        what = "on a random network" if inp["net_of"][i] == 0 else "on a saturating network"
        compare(
            loss, -np.log(probs[label]), f"the loss of forward_one {what}", dtype=precision(out), shape_matters=False
        )
        compare(guess, np.eye(10)[np.argmax(probs)], f"the guess of forward_one {what}")


def q5_2_evaluate(inp, out, ctx):
    answered(out, "evaluate")
    weights, biases = I.network_from(inp, "eval_")
    X, Y = inp["eval_X"], inp["eval_Y"]
    loss, accuracy = _forward_answer(out["evaluate"], "evaluate")
    expected_loss = np.mean([R.mnist_loss(x, y, weights, biases) for x, y in zip(X, Y)])
    compare(loss, expected_loss, "the average loss of evaluate", dtype=precision(out), shape_matters=False)
    compare(accuracy, R.mnist_accuracy(X, Y, weights, biases), "the accuracy of evaluate", shape_matters=False)


def _gradients(inp, out, i):
    value = out.get(f"case{i}")
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"backprop_one raised {value['@error']}")
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch("backprop_one must return the pair (grad_weights, grad_biases)")
    if out.get(f"unchanged{i}") is False:
        raise Mismatch("backprop_one changed the weights it was given")
    return R.layer_arrays(value[0], value[1], list(R.MNIST_SIZES), "backprop_one")


def q5_3_autograd(inp, out, ctx):
    answered(out)
    for i in range(int(inp["cases"]) - 1):
        gw, gb = _gradients(inp, out, i)
        ew, eb = _gradient_lists(ctx.expected("q5_3")[f"case{i}"])
        for l in range(3):
            compare(gw[l], ew[l], f"the weight gradient of layer {l} on a real MNIST sample", dtype=precision(out))
            compare(gb[l], eb[l], f"the bias gradient of layer {l} on a real MNIST sample", dtype=precision(out))


def q5_3_finite_differences(inp, out, ctx):
    answered(out)
    i = int(inp["cases"]) - 1
    weights, biases = (
        [np.array(w) for w in I.network_from(inp, f"n{i}_")[0]],
        [np.array(b) for b in I.network_from(inp, f"n{i}_")[1]],
    )
    x, label = inp[f"x{i}"], int(inp["labels"][i])
    gw, gb = _gradients(inp, out, i)
    rng = I.rng_for("q5_3 finite differences")
    loss = lambda: R.mnist_loss(x, label, weights, biases)
    for l in range(3):
        for params, grads, kind in ((weights, gw, "weight"), (biases, gb, "bias")):
            flat = [
                np.unravel_index(k, params[l].shape)
                for k in rng.choice(params[l].size, size=min(params[l].size, int(inp["fd_indices"])), replace=False)
            ]
            numeric = np.array([R.centred_difference(loss, params[l], index) for index in flat])
            analytic = np.array([grads[l][index] for index in flat])
            # float64 centred differences with h = 1e-5, on the grader's side: the step is valid whatever the
            # precision of the student's code, whose own rounding the tolerance allows for
            error = R.relative_error(analytic, numeric)
            if not error < P5_FD_RTOL[precision(out)]:
                raise Mismatch(
                    f"the {kind} gradient of layer {l} disagrees with centred differences (relative error {error:.1e})"
                )


def _update_steps(inp, out, ctx):
    """train_one_sample's step on the update case, and the student's own gradient there (error carried forward:
    the step is judged against the student's backprop_one, whatever that computes; against the reference's when
    that gradient is all zeros): ([(what, step, expected)], dtype)."""
    if isinstance(out["update"], dict) and "@error" in out["update"]:
        raise Mismatch(f"train_one_sample raised {out['update']['@error']}")
    if "update_grad" not in out:
        raise Mismatch("train_one_sample's update cannot be judged without backprop_one, whose gradient it applies")
    weights, biases = I.network_from(inp, "update_")
    new_w, new_b = R.layer_arrays(out["update"][0], out["update"][1], list(R.MNIST_SIZES), "train_one_sample")
    value = out["update_grad"]
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"backprop_one raised {value['@error']}, so train_one_sample's update cannot be judged")
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch("backprop_one must return the pair (grad_weights, grad_biases)")
    gw, gb = R.layer_arrays(value[0], value[1], list(R.MNIST_SIZES), "backprop_one")
    if not any(np.any(g != 0) for g in gw + gb):  # nothing to apply: a step that does nothing would pass
        gw, gb = _gradient_lists(ctx.expected("q5_3")["update"])
    lr = float(inp["update_lr"])
    steps = []
    for l in range(3):
        steps.append((f"weights[{l}]", new_w[l] - weights[l], -lr * gw[l]))
        steps.append((f"biases[{l}]", new_b[l] - biases[l], -lr * gb[l]))
    for what, step, expected in steps:
        if not (np.all(np.isfinite(step)) and np.all(np.isfinite(expected))):
            raise Mismatch(f"the update of {what} or your gradient of it contains NaN or infinite values")
    return steps, precision(out)


def q5_3_update(inp, out, ctx):
    answered(out, "update")
    steps, dtype = _update_steps(inp, out, ctx)
    for what, step, expected in steps:
        if not R.relative_error(step, expected) < P5_UPDATE_RTOL[dtype]:
            raise Mismatch(
                f"the update of {what} (it must be -learning_rate * the gradient that your backprop_one returns, in place)"
            )


def _own_training_consistent(ctx):
    """Raises Mismatch unless train_one_sample applies the student's own gradient to every parameter it changes.

    A parameter left unchanged is the update check's loss (Q3), not a way to train with other gradients."""
    out = ctx.answers("q5_3")
    answered(out, "update")
    steps, dtype = _update_steps(ctx.inputs("q5_3"), out, ctx)
    for what, step, expected in steps:
        if np.any(step != 0) and not R.relative_error(step, expected) < P5_UPDATE_RTOL[dtype]:
            raise Mismatch(
                f"train_one_sample changes {what} by something other than -learning_rate * your own gradient"
            )


class Inconsistent(Mismatch):
    """train_one_sample's step is not -learning_rate x the student's own gradient."""


AUDITED_STEPS = 4  # the probe's (hw1_probes.AUDITED_STEPS): steps of the student's own training it audits


def _audits_consistent(inp, out, ctx):
    """Raises Mismatch unless train_one_sample, at each audited step of its own training (secret steps that the
    probe drew at run time: train_one_sample cannot tell them from the others), moved every parameter it changed
    by -learning_rate x the student's own gradient there (the reference's when that gradient is all zeros)."""
    audits = out.get("audits")
    if not isinstance(audits, list) or len(audits) != min(AUDITED_STEPS, inp["own_X"].shape[0]):
        raise Mismatch("the audited steps of your own training were not handed over (backprop_one is needed)")
    lr, dtype, seen = float(inp["lr"]), precision(out), set()
    for audit in audits:
        if not isinstance(audit, dict):
            raise Mismatch("the audited steps of your own training were not handed over")
        k = audit.get("step")
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < inp["own_X"].shape[0] or k in seen:
            raise Mismatch("the audited steps of your own training were not handed over")
        seen.add(k)
        before = _trained(audit.get("before"), "train_one_sample (before an audited step)")
        after = _trained(audit.get("after"), "train_one_sample (after an audited step)")
        grad = audit.get("grad")
        if isinstance(grad, dict) and "@error" in grad:
            raise Mismatch(f"backprop_one raised {grad['@error']} on a state of your own training")
        if not isinstance(grad, list) or len(grad) != 2:
            raise Mismatch("backprop_one must return the pair (grad_weights, grad_biases)")
        gw, gb = R.layer_arrays(grad[0], grad[1], list(R.MNIST_SIZES), "backprop_one")
        if not any(np.any(g != 0) for g in gw + gb):  # nothing to apply: judged against the reference's gradient
            gw, gb = R.mnist_backprop(inp["own_X"][k], int(inp["own_Y"][k]), *before)
        for l in range(3):
            for kind, new, old, g in (
                ("weights", after[0][l], before[0][l], gw[l]),
                ("biases", after[1][l], before[1][l], gb[l]),
            ):
                step, expected = new - old, -lr * g
                if not (np.all(np.isfinite(step)) and np.all(np.isfinite(expected))):
                    raise Mismatch(f"an audited step of your own training made {kind}[{l}] NaN or infinite")
                # the step is (w - lr x g) - w: besides the tolerance on lr x g, it carries the rounding of that
                # subtraction, up to eps x |w| per entry, which dominates once training has made the gradient tiny
                allowed = P5_UPDATE_RTOL[dtype] * np.linalg.norm(expected) + 4 * np.finfo(dtype).eps * np.linalg.norm(
                    new
                )
                if np.any(step != 0) and not np.linalg.norm(step - expected) <= allowed:
                    raise Inconsistent(
                        f"at an audited step of your own training, train_one_sample changes {kind}[{l}] by something "
                        "other than -learning_rate * your own gradient"
                    )


def _trained(value, what):
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"{what} raised {value['@error']}")
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch(f"{what} must leave the lists of weights and biases")
    return R.layer_arrays(value[0], value[1], list(R.MNIST_SIZES), what)


def _trajectory(inp, out, ctx):
    """train_one_epoch, run with the grader's stand-in for train_one_sample (which records its calls and moves
    every bias by -learning_rate): one call per sample, in order, with the learning rate it was given, on the
    weights and biases it was given. It is judged on its own: a mistake in train_one_sample is Q3's."""
    answered(out, "trajectory")
    value = out["trajectory"]
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"train_one_epoch raised {value['@error']}")
    if not isinstance(value, dict) or not {"calls", "xs", "ys", "rates", "end"} <= set(value):
        raise Mismatch("no answer was handed over for train_one_epoch")
    X, Y, lr, n = inp["X"], inp["Y"], float(inp["trajectory_lr"]), inp["X"].shape[0]
    calls = int(value["calls"])
    what = f"train_one_epoch over {n} MNIST samples"
    if calls != n:
        raise Mismatch(f"{what} calls train_one_sample {calls} times, not once per sample")
    xs, ys, rates = (R.as_float_array(value[k], what) for k in ("xs", "ys", "rates"))
    if xs.shape != (n, 784) or ys.shape != (n,) or rates.shape != (n,):
        raise Mismatch(f"{what}: the samples it passes to train_one_sample are not the ones it was given")
    if not (np.array_equal(xs, X.astype(np.float64)) and np.array_equal(ys, Y.astype(np.float64))):
        raise Mismatch(f"{what} does not pass each sample and its label to train_one_sample unchanged, in order")
    if not np.allclose(rates, lr, rtol=1e-12, atol=0):
        raise Mismatch(f"{what} does not pass its learning_rate on to train_one_sample")
    start_w, start_b = I.network_from(inp, "start_")
    end_w, end_b = _trained(value["end"], "train_one_epoch")
    moved = all(np.array_equal(a, s) for a, s in zip(end_w, start_w)) and all(
        np.allclose(b, s - n * lr, rtol=1e-9, atol=1e-12) for b, s in zip(end_b, start_b)
    )
    if not moved:
        raise Mismatch(
            f"{what}: the steps of train_one_sample do not reach the weights and biases it was given (in place)"
        )


def q5_4_trajectory(inp, out, ctx):
    _trajectory(inp, out, ctx)


def q5_4_accuracy(inp, out, ctx):
    answered(out, "trained", "own")
    try:
        _trajectory(inp, out, ctx)
        _own_training_consistent(ctx)
    except Mismatch:
        raise Mismatch(
            "accuracy counts only when your training applies your own train_one_sample and backprop_one "
            "(train_one_epoch above, and train_one_sample's update in question Q3)"
        ) from None
    try:
        _audits_consistent(inp, out, ctx)
    except Inconsistent as error:  # consistent on the update case that the notebook can read, not in its training
        ctx.flag(
            "q5_4: train_one_sample applies your backprop_one's gradient on the grader's update case (Q3) but not at "
            "secret steps of its own training: code that behaves differently when it is probed?"
        )
        raise Mismatch(
            f"accuracy counts only when your training applies your own train_one_sample and backprop_one ({error})"
        ) from None
    except Mismatch as error:
        raise Mismatch(f"accuracy counts only when your own training can be checked ({error})") from None
    images, labels = ctx.datasets("MNIST", "test")
    images = images.reshape(-1, 784)
    # the student's own train_one_sample, run by the probe from the grader's weights on a secret training sample:
    # the trained weights count only if the student's own training learns (weights trained some other way do not)
    own_w, own_b = _trained(out["own"], "train_one_sample (applied to each sample in order)")
    own = R.mnist_accuracy(images, labels, own_w, own_b) if all(np.all(np.isfinite(a)) for a in own_w + own_b) else 0.0
    if not own >= P5_ACCURACY_BAR:
        raise Mismatch(
            f"your train_one_sample, run by the grader over {inp['own_X'].shape[0]} training images from its own "
            f"weights, reaches test accuracy {own:.4f}, below {P5_ACCURACY_BAR:.2f}"
        )
    value = out["trained"]
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch("weights and biases must be the lists of your trained parameters")
    weights, biases = R.layer_arrays(value[0], value[1], list(R.MNIST_SIZES), "the trained weights and biases")
    test = R.mnist_accuracy(images, labels, weights, biases)
    train_images, train_labels = training_sample(ctx, "MNIST")
    train = R.mnist_accuracy(train_images.reshape(-1, 784), train_labels, weights, biases)
    flag_test_set(ctx, "q5_4", test, train, P5_CEILING)
    if not test >= P5_ACCURACY_BAR:
        raise Mismatch(
            f"test accuracy {test:.4f} of your trained weights (measured by the grader) is below {P5_ACCURACY_BAR:.2f}"
        )


# ---------------------------------------------------------------- references from the inputs alone
# Autograd's gradients and the reference training epoch depend on the grader's inputs only, never on an answer:
# they are computed once per zip with the inputs and cached beside them (root's cache, verified by SHA-256), so
# that the verdict need not import torch. ctx.expected(question) reads them, or computes them when not cached.


def q3b_expected(inp):
    return {
        f"case{i}": R.grad_loss(inp[f"xs{i}"], inp[f"ys{i}"], I.theta_from(inp, f"t{i}_"))
        for i in range(int(inp["cases"]))
    }


def q3d_expected(inp):
    cases = {f"case{i}": R.grad_f(float(inp["xs"][i]), I.theta_from(inp, f"t{i}_")) for i in range(int(inp["cases"]))}
    return {"theta0": R.grad_f(2.0, I.HANDOUT_THETA0), **cases}


def q4_train_expected(inp):
    smoothing = float(inp["label_smoothing"])
    means, weights = R.fashion_reference_epoch(
        _standard_chain(inp), inp["train_images"], inp["train_labels"], float(inp["lr"]), label_smoothing=smoothing
    )
    epoch = {"means": np.array(means)}
    for k, (W, b) in enumerate(weights):
        epoch[f"W{k}"], epoch[f"b{k}"] = W, b
    test = R.fashion_reference_loss(
        _standard_chain(inp), inp["test_images"][:, 0], inp["test_labels"], label_smoothing=smoothing
    )
    return {"epoch": epoch, "test_means": np.array(test)}


def q5_3_expected(inp):
    def gradients(x, label, prefix):
        dW, db = R.mnist_backprop(x, label, *I.network_from(inp, prefix))
        return {**{f"dW{l}": g for l, g in enumerate(dW)}, **{f"db{l}": g for l, g in enumerate(db)}}

    cases = {f"case{i}": gradients(inp[f"x{i}"], int(inp["labels"][i]), f"n{i}_") for i in range(int(inp["cases"]) - 1)}
    return {**cases, "update": gradients(inp["update_x"], int(inp["update_label"]), "update_")}


def _gradient_lists(expected):
    layers = range(len(R.MNIST_SIZES) - 1)
    return [expected[f"dW{l}"] for l in layers], [expected[f"db{l}"] for l in layers]


EXPECTED = {"q3b": q3b_expected, "q3d": q3d_expected, "q4_train": q4_train_expected, "q5_3": q5_3_expected}


def all_expected(folder):
    """{question: its references} from the inputs drawn into ``folder`` (for the cache)."""
    return {question: expected(I.load(folder, question)) for question, expected in EXPECTED.items()}


# question: [(what the check is, points, check)]
CASES = {  # question: [(what is checked, weight, check)]; weights are shares of the question's points
    "q1a": [("gradient on random vectors", 1, q1a_gradient)],
    "q1b": [("minimiser on random data", 1, q1b_minimiser)],
    "q2a": [("l1 loss on random inputs", 1, q2a_loss)],
    "q2a_shapes": [("shapes for random sizes", 1, q2a_shapes)],
    "q2b": [("answer", 1, q2b_answer)],
    "q3a": [
        ("dataset 1 fitted exactly", 1, _fit("theta_dataset1")),
        ("dataset 2 fitted exactly", 1, _fit("theta_dataset2")),
    ],
    "q3b": [("grad_loss with the grader's f and grad f", 1, q3b_grad_loss)],
    "q3c": [("relu_net on random inputs, and f_at_2", 1, q3c_forward)],
    "q3d": [("gradient at x = 2, theta0", 1, q3d_at_theta0), ("gradient on random theta", 1, q3d_random)],
    "q4_arch": [("dense layer sizes", 1, q4_arch_sizes), ("forward pass", 1, q4_arch_forward)],
    "q4_train": [("train_epoch: one SGD epoch", 2, q4_train_epoch), ("test_epoch: mean loss", 1, q4_test_epoch)],
    "q4_acc": [
        (f"test accuracy >= {P4_BARS[0]:.2f}", 1, _fashion_bar(P4_BARS[0])),
        (f"test accuracy >= {P4_BARS[1]:.2f}", 1, _fashion_bar(P4_BARS[1])),
    ],
    "q4_probs": [
        ("a probability distribution per image", 1, q4_probs_distribution),
        ("the softmax of the model's outputs", 1, q4_probs_softmax),
    ],
    "q5_1": [
        ("shapes and zero biases", 1, q5_1_shapes),
        ("mean and variance", 2, q5_1_statistics),
        ("the draws of default_rng(seed)", 2, q5_1_draws),
    ],
    "q5_2": [("forward_one", 3, q5_2_forward), ("evaluate", 2, q5_2_evaluate)],
    "q5_3": [
        ("gradients against autograd", 4, q5_3_autograd),
        ("gradients against centred differences", 3, q5_3_finite_differences),
        ("train_one_sample's update", 3, q5_3_update),
    ],
    "q5_4": [
        ("train_one_epoch calls train_one_sample once per sample, in order", 1, q5_4_trajectory),
        (f"trained weights reach {P5_ACCURACY_BAR:.2f} test accuracy", 1, q5_4_accuracy),
    ],
}


POINTS_FILE = "points.json"  # written by the build from the master notebook: {question: points}


def question_points():
    """{question: points} as the master notebook gives them (the build's points.json)."""
    import json
    import pathlib

    return json.loads((pathlib.Path(__file__).with_name(POINTS_FILE)).read_text())


def split(points, weights):
    """A question's points shared by weight, rounded to 1/100; the last share takes the remainder, so the
    shares add up to the question's points exactly."""
    shares = [round(points * w / sum(weights), 2) for w in weights]
    shares[-1] = round(points - sum(shares[:-1]), 2)
    return [int(s) if s == int(s) else s for s in shares]


def case_points(question, points=None):
    """[(what, points, check)] for one question: CASES with the weights turned into points."""
    points = question_points() if points is None else points
    cases = CASES[question]
    shares = split(points[question], [w for _, w, _ in cases])
    return [(what, share, check) for (what, _, check), share in zip(cases, shares)]
