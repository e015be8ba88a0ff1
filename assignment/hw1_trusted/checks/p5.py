"""Problem 5: backpropagation from scratch in numpy (initialisation, forward, gradients, training)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import inputs as I
from .. import reference as R
from ..inputs import Inputs
from ..policy import P5_ACCURACY_BAR
from ..reference import Mismatch, compare, precision
from .common import P5_CEILING, P5_FD_RTOL, P5_UPDATE_RTOL, Cases, Expected, answered, flag_test_set, training_sample

if TYPE_CHECKING:
    from ..verdict import Context


def _init_case(inp: Inputs, out: Any, i: int) -> tuple[list[int], tuple[list[np.ndarray], list[np.ndarray]]]:
    sizes = [int(s) for s in inp[f"sizes{i}"]]
    value = out.get(f"case{i}")
    what = f"init_params({sizes}, seed)"
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"{what} raised {value['@error']}")
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch(f"{what} must return the pair (weights, biases)")
    return sizes, R.layer_arrays(value[0], value[1], sizes, what)


def q5_1_shapes(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out)
    for i in range(int(inp["cases"])):
        sizes, (_, biases) = _init_case(inp, out, i)
        if not all(np.all(b == 0) for b in biases):
            raise Mismatch(f"init_params({sizes}, seed): the biases must start at zero")


def q5_1_statistics(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q5_1_draws(inp: Inputs, out: Any, ctx: Context) -> None:
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


def _forward_answer(value: object, what: str) -> list[Any]:
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"{what} raised {value['@error']}")
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch(f"{what} must return the pair (loss, guess)")
    return value


def q5_2_forward(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q5_2_evaluate(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out, "evaluate")
    weights, biases = I.network_from(inp, "eval_")
    X, Y = inp["eval_X"], inp["eval_Y"]
    loss, accuracy = _forward_answer(out["evaluate"], "evaluate")
    expected_loss = np.mean([R.mnist_loss(x, y, weights, biases) for x, y in zip(X, Y)])
    compare(loss, expected_loss, "the average loss of evaluate", dtype=precision(out), shape_matters=False)
    compare(accuracy, R.mnist_accuracy(X, Y, weights, biases), "the accuracy of evaluate", shape_matters=False)


def _gradients(inp: Inputs, out: Any, i: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    value = out.get(f"case{i}")
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"backprop_one raised {value['@error']}")
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch("backprop_one must return the pair (grad_weights, grad_biases)")
    if out.get(f"unchanged{i}") is False:
        raise Mismatch("backprop_one changed the weights it was given")
    return R.layer_arrays(value[0], value[1], list(R.MNIST_SIZES), "backprop_one")


def q5_3_autograd(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out)
    for i in range(int(inp["cases"]) - 1):
        gw, gb = _gradients(inp, out, i)
        ew, eb = _gradient_lists(ctx.expected("q5_3")[f"case{i}"])
        for l in range(3):
            compare(gw[l], ew[l], f"the weight gradient of layer {l} on a real MNIST sample", dtype=precision(out))
            compare(gb[l], eb[l], f"the bias gradient of layer {l} on a real MNIST sample", dtype=precision(out))


def q5_3_finite_differences(inp: Inputs, out: Any, ctx: Context) -> None:
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


def _update_steps(inp: Inputs, out: Any, ctx: Context) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
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


def q5_3_update(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out, "update")
    steps, dtype = _update_steps(inp, out, ctx)
    for what, step, expected in steps:
        if not R.relative_error(step, expected) < P5_UPDATE_RTOL[dtype]:
            raise Mismatch(
                f"the update of {what} (it must be -learning_rate * the gradient that your backprop_one returns, in place)"
            )


def _own_training_consistent(ctx: Context) -> None:
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


def _audits_consistent(inp: Inputs, out: Any, ctx: Context) -> None:
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


def _trained(value: object, what: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    if isinstance(value, dict) and "@error" in value:
        raise Mismatch(f"{what} raised {value['@error']}")
    if not isinstance(value, list) or len(value) != 2:
        raise Mismatch(f"{what} must leave the lists of weights and biases")
    return R.layer_arrays(value[0], value[1], list(R.MNIST_SIZES), what)


def _trajectory(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q5_4_trajectory(inp: Inputs, out: Any, ctx: Context) -> None:
    _trajectory(inp, out, ctx)


def q5_4_accuracy(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q5_3_expected(inp: Inputs) -> dict[str, dict[str, np.ndarray]]:
    def gradients(x: np.ndarray, label: int, prefix: str) -> dict[str, np.ndarray]:
        dW, db = R.mnist_backprop(x, label, *I.network_from(inp, prefix))
        return {**{f"dW{l}": g for l, g in enumerate(dW)}, **{f"db{l}": g for l, g in enumerate(db)}}

    cases = {f"case{i}": gradients(inp[f"x{i}"], int(inp["labels"][i]), f"n{i}_") for i in range(int(inp["cases"]) - 1)}
    return {**cases, "update": gradients(inp["update_x"], int(inp["update_label"]), "update_")}


def _gradient_lists(expected: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    layers = range(len(R.MNIST_SIZES) - 1)
    return [expected[f"dW{l}"] for l in layers], [expected[f"db{l}"] for l in layers]


EXPECTED: Expected = {"q5_3": q5_3_expected}


CASES: Cases = {  # question: [(what is checked, weight, check)]; weights are shares of the question's points
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
