# Two entry points for a new machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := demo
DEMO_RECORDS ?= 20000
DEMO_PORT ?= 8000

.PHONY: demo demo-stop test lint bench dist clean

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

# A release: the wheel and the sdist of this checkout in $(DIST)/, their names and SHA-256.
# `build` makes the sdist, then the wheel from the sdist (so a file missing from the sdist
# is missing from the wheel too), in an isolated environment with the build requirements
# of pyproject.toml from PyPI. The wheel's file dates are the last commit's: one commit
# builds the same wheel byte for byte, as long as setuptools is the same (the sdist's dates
# are the build's). Older builds in $(DIST)/ are removed first; DIST=… builds elsewhere.
DIST ?= dist

$(VENV)/.installed-build: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'build>=1.2'
	touch $@

dist: $(VENV)/.installed-build
	@mkdir -p $(DIST)
	@rm -f $(DIST)/superinsight_bizlogic-*
	@echo "$(BIN)/python -m build --outdir $(DIST) .  (its output: $(DIST)/build.log, kept if it fails)"
	@SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
		$(BIN)/python -m build --outdir $(DIST) . > $(DIST)/build.log 2>&1 \
		|| { tail -n 30 $(DIST)/build.log; exit 1; }
	@rm -f $(DIST)/build.log
	@echo "Built (SHA-256, file):"
	@cd $(DIST) && sha256sum superinsight_bizlogic-*

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache
