"""Problem 4: the FashionMNIST MLP in PyTorch (architecture, the training epoch, accuracy, probabilities)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import reference as R
from ..inputs import Inputs
from ..policy import P4_BARS
from ..reference import Mismatch, compare
from .common import P4_CEILING, Cases, Check, Expected, answered, flag_test_set, training_sample

if TYPE_CHECKING:
    from ..verdict import Context


def _layers(value: object, what: str) -> list[R.Layer]:
    """Handed-over Linear layers as float32 (weight, bias) pairs."""
    if not isinstance(value, list):
        raise Mismatch(f"{what}: no dense layers were found")
    layers: list[R.Layer] = []
    for k, pair in enumerate(value):
        W = R.as_float_array(pair[0], f"{what}: the weight of dense layer {k}").astype(np.float32)
        b = R.as_float_array(pair[1], f"{what}: the bias of dense layer {k}").astype(np.float32)
        layers.append((W, b))
    return layers


def _chain(out: Any, what: str) -> list[R.Layer]:
    layers = _layers(out.get("layers"), what)
    chain = R.linear_chain(layers)
    if chain is None:
        raise Mismatch(f"{what}: the dense layers do not form 784 -> 256 -> 128 -> 64 -> 10")
    return chain


def q4_arch_sizes(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out, "layers")
    sizes = [tuple(int(n) for n in reversed(W.shape)) for W, _ in _layers(out["layers"], "the model")]
    if sizes != [(784, 256), (256, 128), (128, 64), (64, 10)]:
        raise Mismatch(
            f"the dense layers (in_features, out_features) are {sizes}; see the question for the required sizes"
        )


def _relu_chain(out: Any, what: str) -> list[R.Layer]:
    """The student's own layers, in the order their shapes chain 784 -> ... -> 10, whatever their sizes."""
    chain = R.shape_chain(_layers(out.get("layers"), what))
    if chain is None:
        raise Mismatch(f"{what}: the dense layers do not chain from 784 inputs to 10 outputs")
    return chain


def q4_arch_forward(inp: Inputs, out: Any, ctx: Context) -> None:
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


def _standard_chain(inp: Inputs) -> list[R.Layer]:
    return [(inp[f"W{i}"], inp[f"b{i}"]) for i in range(4)]


def _either_mean(value: object, means: Iterable[float], what: str) -> None:
    """A mean loss: over the images or over the batches (they differ when the last batch is partial)."""
    problems = []
    for mean in means:
        try:
            compare(value, mean, what, dtype="float32", shape_matters=False)
            return
        except Mismatch as error:
            problems.append(str(error))
    raise Mismatch(problems[0])


def q4_train_epoch(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q4_test_epoch(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out, "test_loss")
    means = ctx.expected("q4_train")["test_means"]
    _either_mean(out["test_loss"], means, "the mean loss that test_epoch returns on the grader's test batches")


def _fashion_accuracy(out: Any, ctx: Context) -> float:
    if "fashion" not in ctx.cache:
        chain = _chain(out, "the trained model")
        test = R.fashion_accuracy(chain, *ctx.datasets("FashionMNIST", "test"))
        train = R.fashion_accuracy(chain, *training_sample(ctx, "FashionMNIST"))
        flag_test_set(ctx, "q4_acc", test, train, P4_CEILING)
        ctx.cache["fashion"] = test
    return float(ctx.cache["fashion"])


def _fashion_bar(bar: float) -> Check:
    def check(inp: Inputs, out: Any, ctx: Context) -> None:
        answered(out, "layers")
        accuracy = _fashion_accuracy(out, ctx)
        if accuracy < bar:
            raise Mismatch(
                f"test accuracy {accuracy:.4f} (measured by the grader with your trained weights) is below {bar:.2f}"
            )

    return check


def _probs(out: Any) -> np.ndarray:
    probs = R.as_float_array(out["sample_probs"], "sample_probs")
    if probs.shape != (3, 10):
        raise Mismatch(f"sample_probs has shape {probs.shape}, not (3, 10)")
    return probs


def q4_probs_distribution(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out, "sample_idx", "sample_probs")
    probs = _probs(out)
    idx = R.as_float_array(out["sample_idx"], "sample_idx").reshape(-1)
    if idx.size != 3 or len(set(idx.tolist())) != 3 or not all(float(i).is_integer() and 0 <= i < 10000 for i in idx):
        raise Mismatch("sample_idx must be 3 distinct indices into testdata")
    if np.any(probs < 0):
        raise Mismatch("sample_probs has negative entries")
    compare(probs.sum(axis=1), np.ones(3), "the row sums of sample_probs", dtype="float32")


def q4_probs_softmax(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q4_train_expected(inp: Inputs) -> dict[str, Any]:
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


EXPECTED: Expected = {"q4_train": q4_train_expected}


CASES: Cases = {  # question: [(what is checked, weight, check)]; weights are shares of the question's points
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
}
