# Care Journeys: `make run` and `make test` each do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAMPLES := data_samples

.PHONY: setup run test typecheck bench bench-full samples clean browser
CHROMIUM := /usr/bin/chromium

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

## Serve the bundled synthetic samples on http://127.0.0.1:8050/ (built on first run, then read from build/cache).
run: setup
	$(PY) app.py

typecheck: setup
	$(PY) -m mypy journeys

## Debian's chromium and chromium-driver for the browser tests (apt-get, never a downloaded browser).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "Installing Debian's chromium and chromium-driver for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

test: setup typecheck browser
	$(PY) -m pytest -q

## The benchmarks' own yardsticks (DuckDB, pm4py): installed here only, never by setup (pm4py is AGPL).
$(VENV)/.bench-installed: $(STAMP) benchmarks/requirements.txt
	$(PY) -m pip install --quiet -r benchmarks/requirements.txt
	touch $@

## 10^5 and 10^6 episodes: the build, DuckDB and the per-child loop beside it, a month added, the app (issue 5: bench-full adds 10^7, pm4py and Dask).
bench: setup $(VENV)/.bench-installed
	$(PY) benchmarks/bench_build.py
	$(PY) benchmarks/bench_yardsticks.py
	$(PY) benchmarks/bench_incremental.py
	$(PY) benchmarks/bench_app.py

## make bench with 10^7 episodes too (SSDA903 only), pm4py and Dask: about 26 minutes from nothing and 12 GB of memory here.
bench-full: setup $(VENV)/.bench-installed
	$(PY) benchmarks/bench_build.py --full
	$(PY) benchmarks/bench_yardsticks.py --full
	$(PY) benchmarks/bench_dask.py --full
	$(PY) benchmarks/bench_incremental.py --full
	$(PY) benchmarks/bench_app.py --full

samples: setup
	$(VENV)/bin/journeys synth --out $(SAMPLES) --seed 1 --scale 0.25

clean:
	rm -rf build test-artifacts .mypy_cache .pytest_cache
