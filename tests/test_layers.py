"""Every test is in one layer: the fast layer (`make test-fast`, in-process) or the slow one (marked `route`
or `release`, pytest.ini). A test that grades through the route or needs the release without its marker would
make the fast layer slow; this test finds it among the tests of the current run, from what the test and its
fixtures use, and fails. In `make test-fast` the marked tests are deselected, so every test it sees must be fast.
"""

import inspect
import time

import pytest

# what makes a test slow: the session's release fixtures, and the calls that grade through the route or build
RELEASE_FIXTURES = {"fresh_release", "fresh_zip"}
ROUTE_FIXTURES = {"graded_corpus", "spy_result_dir"}
ROUTE_CALLS = (
    "run_as_gradescope(",
    "grade_folder(",
    "grade_corpus_folder(",
    "grade_corpus(",  # tests/corpus/cheats.py: the cheat corpus
    "run_pool(",
    "grade_one_submission(",
    "grade_upload(",
)
BUILD_CALLS = ("build_release.build(",)
LAYERS = {"route", "release"}


def _sources(item):
    """The source of the test function and of every fixture it uses (its whole closure)."""
    functions = [item.function]
    for definitions in item._fixtureinfo.name2fixturedefs.values():
        functions += [d.func for d in definitions]
    texts = []
    for function in functions:
        try:
            texts.append(inspect.getsource(function))
        except (OSError, TypeError):  # pytest's own fixtures
            pass
    return "\n".join(texts)


def missing_layer(marks, fixtures, source):
    """Why a test with these markers, fixtures (its closure) and sources must carry a slow-layer marker that it
    does not carry, or None."""
    marks = set(marks) & LAYERS
    if "route" not in marks and (set(fixtures) & ROUTE_FIXTURES or any(c in source for c in ROUTE_CALLS)):
        return "grades through the route but is not marked route"
    if not marks and (set(fixtures) & RELEASE_FIXTURES or any(c in source for c in BUILD_CALLS)):
        return "needs or builds the release but is marked neither release nor route"
    return None


def _missing_layer(item):
    if not isinstance(item, pytest.Function):
        return None
    return missing_layer({m.name for m in item.iter_markers()}, item.fixturenames, _sources(item))


def test_every_slow_test_carries_its_layer_marker(request):
    unmarked = {item.nodeid: why for item in request.session.items if (why := _missing_layer(item))}
    assert unmarked == {}


def test_the_layer_guard_can_fail():
    """Real route and release tests, read with their markers taken away, are found; with them, they pass."""
    from tests import test_release, test_route

    route_test = inspect.getsource(test_route.test_regrades_are_identical)
    assert missing_layer(set(), {"tmp_path"}, route_test) == "grades through the route but is not marked route"
    assert missing_layer({"release"}, {"tmp_path"}, route_test) == "grades through the route but is not marked route"
    assert missing_layer({"route"}, {"fresh_zip", "tmp_path"}, route_test) is None
    assert missing_layer(set(), {"graded_corpus"}, "") is not None
    release_test = inspect.getsource(test_release.test_student_release_has_every_public_test)
    assert missing_layer(set(), {"fresh_release"}, release_test) is not None
    assert missing_layer({"release"}, {"fresh_release"}, release_test) is None
    assert missing_layer(set(), {"tmp_path"}, BUILD_CALLS[0] + "out)") is not None
    assert missing_layer(set(), {"tmp_path"}, inspect.getsource(test_the_layer_guard_can_fail).replace("(", "")) is None


def test_make_test_runs_every_test_once_and_the_load_tests_wait_for_the_others():
    """make test's processes (tests/suite.py): the route's layer and the side split the marked tests by module, the
    fast layer's two the rest (make test-fast runs those two); the load tests' wait sees a running process, and an
    ended one (a zombie, as the side is until the suite waits for it), as what they are."""
    import subprocess
    import sys

    from tests import suite
    from tests.helpers import machine
    from tools import ROOT

    makefile = (ROOT / "Makefile").read_text()
    for target, command in (("test", "$(PY) -m tests.suite"), ("test-fast", "$(PY) -m tests.suite --fast")):
        recipe = makefile.split(f"\n{target}: ", 1)[1].split("\n\n", 1)[0].split("\n")
        assert f"\t{command}" in recipe, (target, recipe)
    plan = suite.commands(["-x"])
    modules = {p.name for p in (ROOT / "tests").glob("test_*.py")}

    def named(command):
        return {arg.removeprefix("tests/") for arg in command if arg.startswith("tests/")}

    def ignored(command):
        return {arg.removeprefix("--ignore=tests/") for arg in command if arg.startswith("--ignore=")}

    assert named(plan["side"]) == ignored(plan["route"]) == set(suite.SIDE) < modules
    assert named(plan["checks"]) == ignored(plan["fast"]) == set(suite.CHECKS) < modules
    assert "test_load.py" not in suite.SIDE and "tests" in plan["route"] and "tests" in plan["fast"]
    marker = {name: command[command.index("-m", 3) + 1] for name, command in plan.items()}  # after python -m pytest
    assert marker == {"route": suite.SLOW, "side": suite.SLOW, "fast": suite.FAST, "checks": suite.FAST}, marker
    assert suite.FAST == "not route and not release" and all(c[-1] == "-x" for c in plan.values())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert machine.running(child.pid)
        assert not machine.wait_until_ended(child.pid, timeout=1)
    finally:
        child.kill()
    for _ in range(50):  # killed, not yet waited for: a zombie
        if not machine.running(child.pid):
            break
        time.sleep(0.1)
    assert not machine.running(child.pid) and machine.wait_until_ended(child.pid, timeout=1)
    child.wait()
    assert not machine.running(child.pid)  # gone


def test_the_release_is_built_once_for_processes_at_once_and_a_failed_build_fails_the_waiters(tmp_path):
    import threading

    from tests.helpers import shared

    builds = []

    def build():
        time.sleep(0.5)
        builds.append(1)
        return tmp_path / "release"

    handoff = tmp_path / "handoff"
    found = []
    threads = [threading.Thread(target=lambda: found.append(shared.built_once(handoff, build))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [1] and found == [tmp_path / "release"] * 3

    def broken():
        raise ValueError("otter assign failed")

    failing = tmp_path / "failing"
    with pytest.raises(ValueError):
        shared.built_once(failing, broken)
    with pytest.raises(RuntimeError, match="otter assign failed"):
        shared.built_once(failing, build)
