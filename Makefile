# The two commands that are the contract: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
#: The Python versions the package claims (pyproject's requires-python and
#: classifiers); `make test-all` runs the suite on each.
SUPPORTED := 3.10 3.11 3.12 3.13

.PHONY: setup gen check-gen lint test test-python test-uvloop test-all bench mutate demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

gen: setup
	$(PY) tools/gen_spec.py

check-gen: setup
	$(PY) tools/gen_spec.py --check

lint: setup
	$(PY) -m ruff check src tools tests benchmarks
	$(PY) -m ruff format --check src tools tests benchmarks
	$(PY) -m mypy --strict src tools

# pytest exits 5 when it collected no tests: that must fail, not pass.
test: setup check-gen lint test-python test-uvloop

# The test suite alone, on $(PYTHON) in $(VENV).
test-python: setup
	$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

# The broker tests again, every async test on uvloop (as many aio-pika users
# run): connect, TLS, publish, consume, robust, patterns, aio-pika parity.
# Not the cluster (minutes), the examples and the harness (own processes).
UVLOOP_IGNORE := --ignore=tests/integration/test_robust_cluster.py \
	--ignore=tests/integration/test_examples.py \
	--ignore=tests/integration/test_harness.py
test-uvloop: setup
	AMQPIO_TEST_LOOP=uvloop $(PY) -m pytest tests/integration $(UVLOOP_IGNORE); \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

# `make test` on $(PYTHON), then the whole suite (broker tests included) on
# every other supported version, each in its own venv (.venv-3.X).
test-all: test
	@set -e; current=$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	for version in $(SUPPORTED); do \
		[ "$$version" = "$$current" ] && continue; \
		python=$$(tools/find_python.sh $$version); \
		echo "== Python $$version: $$python"; \
		$(MAKE) --no-print-directory test-python PYTHON=$$python VENV=.venv-$$version; \
	done

bench: setup
	$(PY) benchmarks/codec_bench.py
	$(PY) benchmarks/client_bench.py
	$(PY) benchmarks/patterns_bench.py

# Mutation testing (mutmut), each package against its own tests, in scratch
# copies under .mutate/ (kept: a re-run checks only what changed). Tens of
# minutes; scores and targets in docs/mutation.md.
MUTATE_JOBS ?= 2
mutate: setup
	$(PY) -m pip install -q 'mutmut>=3.8,<4'
	$(PY) tools/mutate.py --jobs $(MUTATE_JOBS)

clean:
	rm -rf $(VENV) .venv-3.* .pytest_cache .mypy_cache .ruff_cache .hypothesis .mutate

# The main job: amqpio end to end on a local broker it starts (or reuses) itself.
demo: setup
	$(PY) tools/demo.py
