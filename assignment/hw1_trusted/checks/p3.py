"""Problem 3: the 4-unit ReLU network (fits, grad_loss, the forward value at x = 2, gradients)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import inputs as I
from .. import reference as R
from ..inputs import Inputs
from ..reference import Mismatch, compare, precision
from .common import Cases, Check, Expected, answered

if TYPE_CHECKING:
    from ..verdict import Context

DATASETS_3A = {
    "theta_dataset1": (np.arange(13.0), np.array([8, 6, 4, 2, 0, 2, 4, 2, 0, 2, 4, 6, 8], dtype=float)),
    "theta_dataset2": (np.arange(11.0), np.array([0, 1, 2, 3, 2, 1, 1.5, 2, 2.5, 3, 3.5])),
}


def _fit(name: str) -> Check:
    def check(inp: Inputs, out: Any, ctx: Context) -> None:
        answered(out, name)
        if isinstance(out[name], dict) and "@missing" in out[name]:
            raise Mismatch(f"the notebook does not define {name}")
        xs, ys = DATASETS_3A[name]
        fit = R.relu_net(xs, R.theta_arrays(out[name], name))
        missed = int((~np.isclose(fit, ys, rtol=0, atol=1e-6)).sum())
        if missed:
            raise Mismatch(f"{name} misses {missed} of the {len(xs)} data points")

    return check


def q3b_grad_loss(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out)
    for i in range(int(inp["cases"])):
        expected = ctx.expected("q3b")[f"case{i}"]
        R.compare_grad_dict(
            out.get(f"case{i}"), expected, f"grad_loss on {inp[f'xs{i}'].size} random points", precision(out)
        )


def q3c_forward(inp: Inputs, out: Any, ctx: Context) -> None:
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


def q3d_at_theta0(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out, "grad_at_2")
    expected = ctx.expected("q3d")["theta0"]
    if isinstance(out["grad_at_2"], dict) and "@missing" in out["grad_at_2"]:
        raise Mismatch("the notebook does not define grad_at_2")
    R.compare_grad_dict(out["grad_at_2"], expected, "grad_at_2", precision(out))
    R.compare_grad_dict(out.get("at_theta0"), expected, "grad_f(2, theta0)", precision(out))


def q3d_random(inp: Inputs, out: Any, ctx: Context) -> None:
    answered(out)
    for i in range(int(inp["cases"])):
        kind = "an integer theta and x" if i >= 10 else "a random theta and x"
        R.compare_grad_dict(
            out.get(f"case{i}"),
            ctx.expected("q3d")[f"case{i}"],
            f"grad_f on {kind} (case {i + 1} of {int(inp['cases'])})",
            precision(out),
        )


def q3b_expected(inp: Inputs) -> dict[str, R.Theta]:
    return {
        f"case{i}": R.grad_loss(inp[f"xs{i}"], inp[f"ys{i}"], I.theta_from(inp, f"t{i}_"))
        for i in range(int(inp["cases"]))
    }


def q3d_expected(inp: Inputs) -> dict[str, R.Theta]:
    cases = {f"case{i}": R.grad_f(float(inp["xs"][i]), I.theta_from(inp, f"t{i}_")) for i in range(int(inp["cases"]))}
    return {"theta0": R.grad_f(2.0, I.HANDOUT_THETA0), **cases}


EXPECTED: Expected = {"q3b": q3b_expected, "q3d": q3d_expected}


CASES: Cases = {  # question: [(what is checked, weight, check)]; weights are shares of the question's points
    "q3a": [
        ("dataset 1 fitted exactly", 1, _fit("theta_dataset1")),
        ("dataset 2 fitted exactly", 1, _fit("theta_dataset2")),
    ],
    "q3b": [("grad_loss with the grader's f and grad f", 1, q3b_grad_loss)],
    "q3c": [("relu_net on random inputs, and f_at_2", 1, q3c_forward)],
    "q3d": [("gradient at x = 2, theta0", 1, q3d_at_theta0), ("gradient on random theta", 1, q3d_random)],
}
