"""The notebook's data location: a pre-seeded cache works offline; no data and no network fails clearly."""

import nbformat
import pytest

from tools.build import release as build_release
from tools.data_cache import ensure_data_cache

pytestmark = pytest.mark.release

UNREACHABLE = ["http://127.0.0.1:9/"]  # nothing listens there: the download fails at once, as offline


@pytest.fixture
def notebook_setup(fresh_release, monkeypatch):
    """The student notebook's setup cell, run here: its imports, DATA_DIR and load_split."""

    def run(data_dir):
        monkeypatch.setenv("HW1_DATA_DIR", str(data_dir))
        nb = nbformat.read(fresh_release / "student" / build_release.NOTEBOOK, as_version=4)
        namespace = {}
        exec(next(c.source for c in nb.cells if c.cell_type == "code" and "def load_split" in c.source), namespace)
        for dataset in ("MNIST", "FashionMNIST"):
            monkeypatch.setattr(getattr(namespace["torchvision"].datasets, dataset), "mirrors", UNREACHABLE)
        return namespace

    return run


@pytest.mark.parametrize("dataset", ["MNIST", "FashionMNIST"])
def test_preseeded_cache_loads_offline(notebook_setup, dataset):
    cache = ensure_data_cache()
    if cache is None:
        pytest.skip("no ../shared/data here")
    test_split = notebook_setup(cache)["load_split"](dataset, train=False)
    assert len(test_split) == 10000


def test_missing_data_offline_fails_with_a_clear_message(notebook_setup, tmp_path):
    load_split = notebook_setup(tmp_path)["load_split"]
    with pytest.raises(RuntimeError) as error:
        load_split("MNIST", train=False)
    message = str(error.value)
    assert str(tmp_path) in message and "HW1_DATA_DIR" in message and "MNIST/raw" in message
