"""The hidden checks: every verdict, made in the trusted phase from the handed-over answers.

One module per problem (p1_p2, p3, p4, p5), each with its checks, its ``CASES`` and the references it caches
(``EXPECTED``); ``common`` holds what they share. ``CASES`` lists each autograded question's checks with their
*weights*: a check earns its share of the question's points. The points themselves are written once, in the
master notebook's question settings; the build copies them into ``points.json`` beside this package
(``case_points``), so a changed point value reaches the verdict unchanged. Each check returns None when it
passes, or a message for the student that says what is wrong and where, never the expected value.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from .. import inputs as I
from ..policy import P4_BARS, P5_ACCURACY_BAR
from ..reference import Mismatch
from . import p1_p2, p3, p4, p5
from .common import Cases, Check, Expected, answered
from .p1_p2 import q1a_gradient, q2a_loss
from .p3 import q3c_forward
from .p4 import q4_probs_distribution, q4_train_epoch
from .p5 import q5_3_update, q5_4_trajectory

__all__ = [
    "CASES",
    "EXPECTED",
    "Mismatch",
    "P4_BARS",
    "P5_ACCURACY_BAR",
    "all_expected",
    "answered",
    "case_points",
    "q1a_gradient",
    "q2a_loss",
    "q3c_forward",
    "q4_probs_distribution",
    "q4_train_epoch",
    "q5_3_update",
    "q5_4_trajectory",
    "question_points",
    "split",
]

PROBLEMS = (p1_p2, p3, p4, p5)
CASES: Cases = {question: cases for problem in PROBLEMS for question, cases in problem.CASES.items()}
EXPECTED: Expected = {question: expected for problem in PROBLEMS for question, expected in problem.EXPECTED.items()}
# Autograd's gradients and the reference training epoch depend on the grader's inputs only, never on an answer:
# they are computed once per zip with the inputs and cached beside them (root's cache, verified by SHA-256), so
# that the verdict need not import torch. ctx.expected(question) reads them, or computes them when not cached.


def all_expected(folder: str | pathlib.Path) -> dict[str, Any]:
    """{question: its references} from the inputs drawn into ``folder`` (for the cache)."""
    return {question: expected(I.load(folder, question)) for question, expected in EXPECTED.items()}


POINTS_FILE = "points.json"  # written by the build from the master notebook beside hw1_trusted's modules


def question_points() -> dict[str, float]:
    """{question: points} as the master notebook gives them (the build's points.json)."""
    points: dict[str, float] = json.loads((pathlib.Path(__file__).resolve().parent.parent / POINTS_FILE).read_text())
    return points


def split(points: float, weights: Sequence[float]) -> list[float]:
    """A question's points shared by weight, rounded to 1/100; the last share takes the remainder, so the
    shares add up to the question's points exactly."""
    shares = [round(points * w / sum(weights), 2) for w in weights]
    shares[-1] = round(points - sum(shares[:-1]), 2)
    return [int(s) if s == int(s) else s for s in shares]  # 2, not 2.0: as Otter shows points


def case_points(question: str, points: Mapping[str, float] | None = None) -> list[tuple[str, float, Check]]:
    """[(what, points, check)] for one question: CASES with the weights turned into points."""
    given = question_points() if points is None else points
    cases = CASES[question]
    shares = split(given[question], [w for _, w, _ in cases])
    return [(what, share, check) for (what, _, check), share in zip(cases, shares)]
