# Two entry points: `make run` (dashboard on demo data) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test demo bench clean

run: $(VENV)/.runtime
	$(BIN)/python -m forecasting --quiet demo --if-empty --train
	$(BIN)/streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev
	bash scripts/system-deps.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile

demo: $(VENV)/.runtime
	$(BIN)/python -m forecasting demo --train

bench: $(VENV)/.dev
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	$(BIN)/python -m bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) data/forecasting.db*
