# The two commands of the README:
#   make release   builds student/, solutions/ and autograder/ from assignment/hw1.ipynb
#   make test      runs the test suite (it builds its own copy of the release to compare)
# Both create the pinned virtual environment in .venv first if it is missing or outdated.

# Debian's python3.11 when there is one: the grading sandbox's unprivileged user must be able to run the
# environment's interpreter, and pyenv's lives under /root (mode 0700).
PYTHON ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || echo python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: release test benchmark gradescope grade pdfs clean-venv

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

# one upload graded exactly as Gradescope runs the zip (Linux and root): make gradescope SUBMISSION=hw1.ipynb OUT=out/
gradescope: $(VENV)/.installed
	$(PY) tools/gradescope.py "$(SUBMISSION)" "$(OUT)"

# the written part's PDFs for TAs and the Gradescope template, into pdfs/ (not committed; needs pandoc and xelatex)
pdfs: $(VENV)/.installed
	$(PY) tools/pdfs.py
# a folder of uploads (or Gradescope's export) graded through the route, in parallel (Linux and root):
#   make grade SUBMISSIONS=folder OUT=dir [REGRADE=name] [FORCE=1] [JOBS=n] [TIMEOUT=seconds]
grade: $(VENV)/.installed
	$(PY) tools/bulk_grade.py "$(SUBMISSIONS)" "$(OUT)" $(if $(REGRADE),--regrade "$(REGRADE)") $(if $(FORCE),--force) $(if $(JOBS),--jobs $(JOBS)) $(if $(TIMEOUT),--timeout $(TIMEOUT))

clean-venv:
	rm -rf $(VENV)
