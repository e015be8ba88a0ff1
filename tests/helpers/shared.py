"""What make test's pytest processes, run at once (tests/suite.py), share: one build of the release."""

import os
import pathlib
import time
from collections.abc import Callable

FAILED = "failed: "


def built_once(handoff: pathlib.Path, build: Callable[[], pathlib.Path], timeout: float = 1800) -> pathlib.Path:
    """The folder that ``build`` makes, built by whichever process claims ``handoff`` first (it creates the file);
    the others wait until the builder has written the folder (or its failure) into the file. A failed build fails
    every process that waits for it, with the builder's reason, instead of leaving them waiting."""
    try:
        claim = os.open(handoff, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return _wait_for(handoff, timeout)
    try:
        folder = build()
    except BaseException as error:
        _publish(claim, handoff, f"{FAILED}{type(error).__name__}: {error}".replace("\n", " ")[:2000])
        raise
    _publish(claim, handoff, str(folder))
    return folder


def _publish(claim: int, handoff: pathlib.Path, text: str) -> None:
    """Written whole, then renamed over the claim: a reader sees the claim's empty file or all of the text."""
    os.close(claim)
    written = handoff.with_name(handoff.name + ".written")
    written.write_text(text + "\n")
    os.replace(written, handoff)


def _wait_for(handoff: pathlib.Path, timeout: float) -> pathlib.Path:
    deadline = time.monotonic() + timeout
    while True:
        text = handoff.read_text()
        if text.endswith("\n"):
            text = text.strip()
            if text.startswith(FAILED):
                raise RuntimeError(f"the release that another layer built for this run failed: {text[len(FAILED) :]}")
            return pathlib.Path(text)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no release in {handoff} after {timeout:.0f} s: the layer that builds it still runs")
        time.sleep(1)
