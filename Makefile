# The two commands of the README:
#   make release   builds student/, solutions/ and autograder/ from assignment/hw1.ipynb
#   make test      runs the test suite (it builds its own copy of the release to compare)
# Both create the pinned virtual environment in .venv first if it is missing or outdated.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: release test benchmark clean-venv

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

release: $(VENV)/.installed
	$(PY) tools/build_release.py

test: $(VENV)/.installed
	$(PY) -m pytest tests

benchmark: $(VENV)/.installed
	$(PY) tools/benchmark.py

clean-venv:
	rm -rf $(VENV)
