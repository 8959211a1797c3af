# Two entry points for a new machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := demo
DEMO_RECORDS ?= 20000
DEMO_PORT ?= 8000

.PHONY: demo demo-stop test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Bytecode is compiled once here, as pip does for a regular install: an editable install
# leaves it to the first import, which never writes it where PYTHONDONTWRITEBYTECODE is set
# (every command would compile the package again).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q src
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q src
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/bizlogic demo-data $(DEMO)/records.jsonl --records $(DEMO_RECORDS)
	$(BIN)/bizlogic analyze $(DEMO)/records.jsonl --output $(DEMO)/report.json
	$(BIN)/bizlogic demo-data $(DEMO)/labelstudio.json --format labelstudio --records 10000 --seed 3
	$(BIN)/bizlogic analyze $(DEMO)/labelstudio.json --format labelstudio --lang zh --top 5 \
		--output $(DEMO)/labelstudio-report.json
	$(BIN)/python scripts/demo_service.py $(DEMO)/records.jsonl --dir $(DEMO) --port $(DEMO_PORT)
	@echo
	@echo "Demo data:     $(DEMO)/records.jsonl (ground truth: $(DEMO)/records.truth.json)"
	@echo "               $(DEMO)/labelstudio.json (a Label Studio full JSON export)"
	@echo "Full results:  $(DEMO)/report.json, $(DEMO)/labelstudio-report.json"
	@echo "Result schema: docs/analysis-output.md    Everything else: $(BIN)/bizlogic --help"

demo-stop:
	@if [ -f $(DEMO)/serve.pid ]; then kill $$(cat $(DEMO)/serve.pid) 2>/dev/null || true; \
		rm -f $(DEMO)/serve.pid; echo "demo server stopped"; fi

test: $(VENV)/.installed-test
	bash scripts/test-prereqs.sh
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/mining.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache
