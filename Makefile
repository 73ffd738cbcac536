# Care Journeys: `make run` and `make test` each do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAMPLES := data_samples

.PHONY: setup run test typecheck bench samples clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

## Build the bundled synthetic samples (the app arrives with issue 4 and will serve them).
run: setup
	@for a in northgate riverside westmoor; do \
	  echo "== $$a"; \
	  $(VENV)/bin/journeys build --quiet --config pathway_configs/$$a.yaml $(SAMPLES)/$$a/* --out build/samples/$$a \
	    && $(PY) -c "import json,sys; r=json.load(open('build/samples/$$a/report.json')); print('rows read', r['rows_read'], 'used', r['rows_used'], 'superseded', r['rows_superseded'], 'ignored', r['rows_ignored'], 'quarantined', r['rows_quarantined'])"; \
	done
	@if [ -f app.py ]; then $(PY) app.py; else echo "Built into build/samples/. The app (issue 4) is not written yet."; fi

typecheck: setup
	$(PY) -m mypy journeys

test: setup typecheck
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_build.py

samples: setup
	$(VENV)/bin/journeys synth --out $(SAMPLES) --seed 1 --scale 0.25

clean:
	rm -rf build .mypy_cache .pytest_cache
