"""Problems 1 and 2: vector calculus (q1a, q1b) and the L1 loss (q2a, q2a_shapes, q2b)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import reference as R
from ..inputs import Inputs
from ..reference import Mismatch, compare, precision
from .common import Cases, Expected, answered

if TYPE_CHECKING:
    from ..verdict import Context


def q1a_gradient(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out)
    for key in sorted(inp):
        x = inp[key].copy()
        numeric = [R.centred_difference(lambda: float(x @ x), x, i) for i in range(x.size)]
        compare(out.get(key), numeric, f"grad_squared_norm on a random {x.size}-vector", dtype="float32")


def q1b_minimiser(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q2a_loss(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q2a_shapes(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q2b_answer(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out, "value")
    if not isinstance(out["value"], bool):
        raise Mismatch("l1_closed_form_exists must be a bool")
    if out["value"] is not Q2B_ANSWER:
        raise Mismatch("l1_closed_form_exists is not correct")


EXPECTED: Expected = {}  # nothing cached: the checks compute their references from the inputs as they go


CASES: Cases = {  # question: [(what is checked, weight, check)]; weights are shares of the question's points
    "q1a": [("gradient on random vectors", 1, q1a_gradient)],
    "q1b": [("minimiser on random data", 1, q1b_minimiser)],
    "q2a": [("l1 loss on random inputs", 1, q2a_loss)],
    "q2a_shapes": [("shapes for random sizes", 1, q2a_shapes)],
    "q2b": [("answer", 1, q2b_answer)],
}
