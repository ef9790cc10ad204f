# dlcourse: two commands for learners (`make lab`, `make test`), a few more for maintainers.
# Every target sets up .venv first when needed, with the tested versions in constraints.txt:
# `make lab` a learner's environment (the course and JupyterLab), every other target adds the
# extras it needs (pyproject.toml) the first time it runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What .venv holds: the learner's install (core dependencies and the `lab` extra); with the grader
# (`grade`: nbgrader, copydetect); with the website's tools (`book`); everything `make test` needs.
LEARNER_STAMP := $(VENV)/.installed-lab
GRADE_STAMP := $(VENV)/.installed-grade
BOOK_STAMP := $(VENV)/.installed-book
STAMP := $(VENV)/.installed
# Extra arguments for JupyterLab, e.g. make lab LAB_ARGS="--no-browser --port=8899"
LAB_ARGS ?=
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
# Test workers (pytest-xdist): one per logical core by default (each notebook kernel runs one
# thread), so an 8-core laptop runs the suite in a fraction of CI's time; `make test WORKERS=2`.
WORKERS ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
# One notebook per worker (each kernel uses one thread); half as many when each uses two threads
# (NUMERICS=threads2), since more multi-threaded kernels than cores spin-wait and crawl.
HALF_WORKERS = $(shell w=$$(( $(WORKERS) / 2 )); echo $$(( w > 0 ? w : 1 )))
NBVAL = --nbval-current-env -n $(if $(filter threads2,$(NUMERICS)),$(HALF_WORKERS),$(WORKERS)) --dist loadfile

# Reproducible notebook outputs: the same hash seed and thread counts for `make outputs` and
# `make test` (each notebook also seeds every generator with dlcourse.lesson.start), and no
# learner's progress recorded from the course's own runs (dlcourse/learner_record.py).
DETERMINISM := PYTHONHASHSEED=0 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TQDM_MININTERVAL=0.5 \
	DLCOURSE_PROFILE=quick DLCOURSE_DEVICE=cpu DLCOURSE_PROGRESS=off

# Numerical configurations that make this machine compute like another one (CONTRIBUTING.md,
# "Verifying outputs on any machine"): other BLAS kernels (OpenBLAS core type, MKL code path),
# other oneDNN and PyTorch vector instruction sets, two threads instead of one.
# `make notebooks NUMERICS=sse` runs the notebook suite as on a CPU without AVX.
NUMERICS ?= default
NUMERICS_default :=
# NumPy picks its own SIMD loops (exp, tanh, sums) by CPU feature groups; NPY_DISABLE_CPU_FEATURES
# caps them too, so that a simulated machine computes the same on an AVX-512 and an AVX2 host.
NUMERICS_avx2 := OPENBLAS_CORETYPE=Haswell MKL_CBWR=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
	ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"
NUMERICS_sse := OPENBLAS_CORETYPE=Nehalem MKL_CBWR=COMPATIBLE ONEDNN_MAX_CPU_ISA=SSE41 \
	ATEN_CPU_CAPABILITY=default NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR"
# avx2 and sse simulate x86-64 CPUs; threads2 works on any CPU (its OpenBLAS kernel choice only on x86-64).
X86_64 := $(filter x86_64,$(shell uname -m))
NUMERICS_threads2 := $(if $(X86_64),OPENBLAS_CORETYPE=Zen) DLCOURSE_THREADS=2 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
ifeq ($(filter $(NUMERICS),default avx2 sse threads2),)
$(error NUMERICS=$(NUMERICS) is not one of: default avx2 sse threads2)
endif
NOTEBOOK_ENV := $(DETERMINISM) $(NUMERICS_$(NUMERICS))
.PHONY: lab test setup data outputs sync lint unit notebook-tests system notebooks notebooks-elsewhere \
	notebooks-measured notebooks-exact lock clean help gpu-check book linkcheck
.DEFAULT_GOAL := help

help:
	@echo "make lab       set up (first time) and open the course in JupyterLab"
	@echo "make test      set up (first time) and run every test"
	@echo "make unit      the fast unit tests only (tests/unit): the maintainer's quick loop"
	@echo "make notebooks NUMERICS=sse  check committed outputs as another CPU computes (avx2, sse, threads2)"
	@echo "make outputs   re-execute lessons and solutions, refresh committed outputs and the course map"
	@echo "make sync      regenerate badges, setup cells and README's course map"
	@echo "make exercises regenerate exercises/ from solutions/"
	@echo "make book      build the course's website into build/book/html (committed outputs, no re-execution)"
	@echo "make linkcheck check the website's external links (needs the network)"
	@echo "make grade     grade submissions: make grade ASSIGNMENT=00_warmup SUBMISSIONS=folder;"
	@echo "               then the written answers: make grade MERGE=path/to/rubric.csv"
	@echo "make gradescope ASSIGNMENT=00  the assignment's Gradescope autograder -> build/gradescope/00_warmup.zip"
	@echo "make lock      re-pin constraints.txt from a fresh environment"
	@echo "make gpu-check on a GPU machine: every lesson in the full profile, claims, benchmark -> benchmarks/results/gpu.md"

INSTALL := $(BIN)/python -m pip install --quiet -c constraints.txt -e
# nbgrader brings its own JupyterLab and server extensions (an Nbgrader menu, Formgrader, the
# assignment and course lists, Create Assignment, Validate): its course management, which this
# course does not use (the grader runs nbgrader's preprocessors as a library), and which shows a
# learner pages of errors. They are switched off in .venv whenever nbgrader is installed, so that
# `make lab` shows the learner's JupyterLab in a maintainer's .venv too.
# The server extensions are those that nbgrader's own config file enables.
NBGRADER_SERVER_EXTENSIONS = $(BIN)/python -c "import json, sys; print(*json.load(open(sys.prefix \
	+ '/etc/jupyter/jupyter_server_config.d/nbgrader.json'))['ServerApp']['jpserver_extensions'])"
NBGRADER_UI_OFF = if $(BIN)/python -c "import nbgrader" 2>/dev/null; then \
	extensions=$$($(NBGRADER_SERVER_EXTENSIONS)) && \
	$(BIN)/jupyter server extension disable --sys-prefix $$extensions && \
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader; \
	fi >$(VENV)/nbgrader-ui-off.log 2>&1 || { cat $(VENV)/nbgrader-ui-off.log; exit 1; }

$(LEARNER_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(INSTALL) '.[lab]'
	$(BIN)/python -c "import matplotlib.pyplot"  # build matplotlib's font cache once, not in a notebook
	@$(NBGRADER_UI_OFF)
	touch $@

$(GRADE_STAMP): $(LEARNER_STAMP)
	$(INSTALL) '.[lab,grade]'
	@$(NBGRADER_UI_OFF)
	touch $@

$(BOOK_STAMP): $(LEARNER_STAMP)
	$(INSTALL) '.[lab,book]'
	touch $@

$(STAMP): $(LEARNER_STAMP)
	$(INSTALL) '.[lab,test,grade,book]'
	@$(NBGRADER_UI_OFF)
	touch $@ $(GRADE_STAMP) $(BOOK_STAMP)

# Everything `make test` needs (.ci/run calls it on a fresh clone before `make test`).
setup: $(STAMP)

# Data the lessons read from a sha256-verified cache, fetched in advance (lessons would fetch it on
# first use): every data set that dlcourse/data/registry.py marks for set-up (see data/README.md).
# Everything else the course needs ships with the repository or a package.
data: $(LEARNER_STAMP)
	$(BIN)/python -m dlcourse fetch --all

lab: $(LEARNER_STAMP)
	-@$(BIN)/python -m dlcourse fetch --all || echo "(some data is not cached yet: each lesson fetches what it needs on first use)"
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" $(ALLOW_ROOT) \
		--LabApp.default_url=/lab/tree/notebooks/00_setup.ipynb $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m tools.sync_notebooks --check

# The tests, in three parts (CONTRIBUTING.md, "The tests"). The slowest tests are listed at the
# end, so that a slow suite shows where its time goes.
# Fast unit tests of dlcourse and tools: the maintainer's quick loop.
unit: $(STAMP) data
	$(PYTEST) -n $(WORKERS) --durations=12 tests/unit

# Tests that execute or inspect the notebooks (nbval harness, conventions, prose numbers, exercises).
notebook-tests: $(STAMP) data
	$(PYTEST) -n $(WORKERS) --durations=12 tests/notebooks

# The course as people run it: browser, `make lab`, a Colab-like install, grading end to end,
# and the website (built first: tests/system/test_book.py reads it).
system: $(STAMP) data book
	$(PYTEST) -n $(WORKERS) --durations=12 tests/system

# Strict nbval for committed outputs (lessons and solutions), lax for generated exercises.
# Measured cells are compared within the tolerance their notebook states (tests/notebooks/nbval_measured.py).
# `make notebooks` checks every notebook under one configuration (NUMERICS=sse: as a CPU without AVX).
STRICT_NBVAL = $(NOTEBOOK_ENV) $(PYTEST) --nbval --nbval-sanitize-with tests/notebooks/nbval-sanitize.cfg $(NBVAL)
LAX_EXERCISES = $(if $(wildcard exercises/*.ipynb),$(NOTEBOOK_ENV) $(PYTEST) --nbval-lax $(NBVAL) exercises)
notebooks: $(STAMP) data
	$(STRICT_NBVAL) notebooks $(wildcard solutions/*.ipynb)
	$(LAX_EXERCISES)

# `make test` executes each notebook once. The notebooks with measured cells (numbers that may
# drift between machines: anything trained or fitted; `python -m tools.notebook_meta measured`)
# compute as another CPU would, so that every CI run proves their committed outputs on a second
# kind of machine: as a CPU without AVX-512 where this one has it, else as one without AVX at all,
# on a CPU that is not x86-64 with two threads. The others hold no drifting number and run as this
# machine computes, with the exercises. `make test ELSEWHERE=sse` picks the second kind.
HAS_AVX512 := $(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo yes)
ELSEWHERE ?= $(if $(X86_64),$(if $(HAS_AVX512),avx2,sse),threads2)
notebooks-elsewhere: $(STAMP) data
	$(MAKE) --no-print-directory notebooks-measured NUMERICS=$(ELSEWHERE)

notebooks-measured: $(STAMP) data
	$(STRICT_NBVAL) $$($(BIN)/python -m tools.notebook_meta measured)

notebooks-exact: $(STAMP) data
	$(STRICT_NBVAL) $$($(BIN)/python -m tools.notebook_meta exact)
	$(LAX_EXERCISES)

# Each phase is timed; the table is printed at the end and kept in build/test-times.md.
TEST_PHASES := lint unit notebook-tests system notebooks-elsewhere notebooks-exact
test: $(STAMP)
	rm -f build/notebook-times.md build/test-times.md
	@mkdir -p build && printf '| phase | seconds |\n|---|---|\n' > build/test-times.md
	@total=0; for phase in $(TEST_PHASES); do \
		start=$$(date +%s); $(MAKE) --no-print-directory $$phase || exit 1; \
		took=$$(( $$(date +%s) - start )); total=$$(( total + took )); \
		echo "| $$phase | $$took |" >> build/test-times.md; \
	done; echo "| total | $$total |" >> build/test-times.md
	@echo "Time per phase ($(WORKERS) workers, $$(nproc) cores):"; cat build/test-times.md
	@echo "Notebook run times: build/notebook-times.md"

outputs: $(STAMP) data
	$(DETERMINISM) $(BIN)/python -m tools.refresh_outputs

# The course's website from the committed notebooks, nothing executed; warnings are errors
# (tools/book.py). Publishing: .github/workflows/book.yml and CONTRIBUTING.md, "The website".
book: $(BOOK_STAMP)
	$(BIN)/python -m tools.book

# The website's external links (needs the network; not part of `make test`).
linkcheck: $(BOOK_STAMP)
	$(BIN)/python -m tools.book --linkcheck

sync: $(STAMP)
	$(BIN)/python -m tools.sync_notebooks

# The one script for a GPU machine (about 8 minutes on one data-centre GPU): the doctor's report,
# every lesson executed in the full run profile with its claims checked (committed outputs are not
# touched), the benchmark's CUDA rows; the report goes to benchmarks/results/gpu.md.
gpu-check: $(STAMP) data
	$(BIN)/python -m tools.gpu_check --out benchmarks/results/gpu.md

lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet torch==2.13.0 -e '.[lab,test,grade,book,data]'
	build/lock-venv/bin/python -m pip freeze --exclude-editable | sed 's/+cpu$$//' > constraints.txt
	rm -rf build/lock-venv

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache

# Exercises and grading (docs/instructors.md).
.PHONY: exercises grade
# Regenerate exercises/ from their single source in solutions/ (nbgrader's preprocessors).
exercises: $(GRADE_STAMP)
	$(BIN)/python -m tools.make_exercises

# Grade a folder of submissions: make grade ASSIGNMENT=00_warmup SUBMISSIONS=path/to/folder;
# then merge the run's filled rubric sheet (written answers): make grade MERGE=path/to/rubric.csv
grade: $(GRADE_STAMP)
	@test -n "$(MERGE)" -o \( -n "$(ASSIGNMENT)" -a -n "$(SUBMISSIONS)" \) || \
		{ echo "usage: make grade ASSIGNMENT=00_warmup SUBMISSIONS=path/to/folder [GRADE_ARGS=...]"; \
		  echo "       make grade MERGE=path/to/rubric.csv [GRADE_ARGS=--results folder]"; exit 2; }
	$(if $(MERGE),$(BIN)/python -m tools.grading merge "$(MERGE)" $(GRADE_ARGS),$(BIN)/python -m tools.grading "$(ASSIGNMENT)" "$(SUBMISSIONS)" $(GRADE_ARGS))

# Gradescope's autograder for an assignment (docs/instructors.md, "Gradescope"), a zip to upload:
# make gradescope ASSIGNMENT=00 (or 00_warmup) -> build/gradescope/00_warmup.zip
.PHONY: gradescope
gradescope: $(GRADE_STAMP)
	@test -n "$(ASSIGNMENT)" || \
		{ echo "usage: make gradescope ASSIGNMENT=00_warmup [GRADESCOPE_ARGS=\"--notebook-timeout 300 ...\"]"; exit 2; }
	$(BIN)/python -m tools.grading.gradescope build "$(ASSIGNMENT)" $(GRADESCOPE_ARGS)
