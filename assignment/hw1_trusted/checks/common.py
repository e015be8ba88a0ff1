"""What every problem's checks share: the answered() guard, the tolerances and the test-set flag.

Each check returns None when it passes, or raises Mismatch with a message for the student that says what is
wrong and where, never the expected value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..inputs import Inputs, Pair
from ..reference import Mismatch

if TYPE_CHECKING:
    from ..verdict import Context

Check = Callable[[Inputs, Any, "Context"], None]  # (the inputs, the handed-over answers, the context): raises Mismatch
Cases = dict[str, list[tuple[str, float, Check]]]  # question: [(what is checked, weight or points, check)]
Expected = dict[str, Callable[[Inputs], Any]]  # question: its references from its inputs alone

P4_CEILING, P5_CEILING = 0.92, 0.80  # test accuracies above what the notebook's training reaches are flagged
P5_UPDATE_RTOL = {"float64": 1e-7, "float32": 1e-4}  # train_one_sample's step against -lr x its own gradient (norms)
P5_FD_RTOL = {"float64": 1e-6, "float32": 1e-3}  # analytic gradient against float64 centred differences (norms):
# float64 code agrees to about 1e-8, float32 code to about 1e-5; the closest wrong gradient is off by more than 1e-1
TEST_SET_FLAG_MARGIN = 0.02  # test accuracy this far above training accuracy is flagged


def answered(out: Any, *keys: str) -> None:
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


def training_sample(ctx: Context, name: str) -> Pair:
    """A secret random sample of the training set: a submission cannot know which images it is compared on."""
    return ctx.datasets.training_sample(name)


def flag_test_set(ctx: Context, question: str, test: float, train: float, ceiling: float) -> None:
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
