# The two commands that are the contract: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup gen check-gen lint test bench demo clean

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
test: setup check-gen lint
	$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

bench: setup
	$(PY) benchmarks/codec_bench.py
	$(PY) benchmarks/client_bench.py
	$(PY) benchmarks/patterns_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The main job: amqpio end to end on a local broker it starts (or reuses) itself.
demo: setup
	$(PY) tools/demo.py
