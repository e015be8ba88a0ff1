# The README's two commands (make alone lists every target):
#   make release   builds student/, solutions/ and autograder/ from assignment/hw1.ipynb
#   make test      runs the test suite (it builds its own copy of the release to compare)
# Both create the pinned virtual environment in .venv first if it is missing or outdated.
# Every tool is a module of the tools package, grouped by verb and run from the repository's root:
# python -m tools.<build|grade|report|measure>.<name> --help.

# Debian's python3.11 when there is one: the grading sandbox's unprivileged user must be able to run the
# environment's interpreter, and pyenv's lives under /root (mode 0700).
PYTHON ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || echo python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: help lint release test test-fast benchmark gradescope grade similarity pdfs otter-grade clean-venv

# A bare `make` lists the targets; it builds nothing.
help:
	@echo "make release     build student/, solutions/ and autograder/ from assignment/hw1.ipynb"
	@echo "make test        run the test suite (Linux and root; use VENV=/opt/hw1-venv, as .ci/run does)"
	@echo "make test-fast   the in-process tests only (no route, no release): about a minute"
	@echo "make lint        ruff check, ruff format --check (ruff.toml) and mypy (mypy.ini); the suite runs them too"
	@echo "make gradescope  SUBMISSION=hw1.ipynb OUT=out/   grade one upload exactly as Gradescope runs the zip"
	@echo "make grade       SUBMISSIONS=folder OUT=dir      grade a folder of uploads (CSV, class report, resume, throughput)"
	@echo "make similarity  SUBMISSIONS=folder OUT=dir      the code-similarity report, OUT/similarity.html"
	@echo "make pdfs        the written part's PDFs for TAs and Gradescope, into pdfs/"
	@echo "make benchmark   grading time and memory"
	@echo "make otter-grade otter grade (Docker, buildx) on the solution, a blank and a one-mistake notebook, against the route"
	@echo "make clean-venv  remove the environment ($(VENV))"
	@echo "Each target but help creates the pinned environment in $(VENV) first (about 2 minutes, 6 GB)."
	@echo "Each runs a module of tools/ from this folder: python -m tools.<verb>.<name> --help (build.release, grade.gradescope, ...)."

# The lock pins every package of the tested environment: installed as constraints, so that a later
# install cannot drift from what the zip installs on Gradescope.
# The stamp is keyed on the requirement files' contents, not their dates: a fresh clone (whose files are all new)
# with an environment already installed from the same files installs nothing.
REQUIREMENTS_KEY := $(shell cat requirements.txt requirements-dev.txt requirements-lock.txt | sha256sum | cut -c1-16)
INSTALLED := $(VENV)/.installed-$(REQUIREMENTS_KEY)

$(INSTALLED):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c requirements-lock.txt
	rm -f $(VENV)/.installed $(VENV)/.installed-*
	touch $@

release: $(INSTALLED)
	$(PY) -m tools.build.release

# The suite as pytest processes at once (tests/suite.py: the route's layer, the modules that run one notebook at a
# time, the fast layer's two), so that both CPUs stay busy; the others' reports follow the route layer's.
test: $(INSTALLED)
	$(PY) -m tests.suite

# the fast layer: every test not marked route or release (pytest.ini), in-process, for quick feedback; as two
# processes at once (tests/suite.py): the in-process checks, about half of its time, and the rest
test-fast: $(INSTALLED)
	$(PY) -m tests.suite --fast

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

benchmark: $(INSTALLED)
	$(PY) -m tools.measure.benchmark

# one upload graded exactly as Gradescope runs the zip (Linux and root): make gradescope SUBMISSION=hw1.ipynb OUT=out/
gradescope: $(INSTALLED)
	$(PY) -m tools.grade.gradescope "$(SUBMISSION)" "$(OUT)"

# the written part's PDFs for TAs and the Gradescope template, into pdfs/ (not committed; needs pandoc and xelatex)
pdfs: $(INSTALLED)
	$(PY) -m tools.build.pdfs
# a folder of uploads (or Gradescope's export) graded through the route, in parallel (Linux and root):
#   make grade SUBMISSIONS=folder OUT=dir [REGRADE=name] [FORCE=1] [JOBS=n] [TIMEOUT=seconds]
grade: $(INSTALLED)
	$(PY) -m tools.grade "$(SUBMISSIONS)" "$(OUT)" $(if $(REGRADE),--regrade "$(REGRADE)") $(if $(FORCE),--force) $(if $(JOBS),--jobs $(JOBS)) $(if $(TIMEOUT),--timeout $(TIMEOUT))

# the most similar pairs of submissions, side by side (a reason to look, never a verdict):
#   make similarity SUBMISSIONS=folder OUT=dir
similarity: $(INSTALLED)
	$(PY) -m tools.report.similarity "$(SUBMISSIONS)" "$(OUT)"

# otter grade for real: Otter's image from the committed zip, three notebooks, its CSV against the route's scores
# (needs Docker with buildx and the network once; says what is missing and stops otherwise; not part of make test)
otter-grade: $(INSTALLED)
	$(PY) -m tools.grade.otter_grade_check $(if $(OUT),--out "$(OUT)")

clean-venv:
	rm -rf $(VENV)
