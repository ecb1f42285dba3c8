# The two commands of the README. Both create .venv and install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROFILE ?= quick
EXAMPLE_PROFILE ?= brief
OUT    ?= results
# SEEDS=3 (or 0,1,2): every network once per seed, metrics with 95% intervals, comparisons tested.
SEEDS  ?=
# EXECUTOR=processes JOBS=2, or EXECUTOR=ray ADDRESS=head:6379: who trains the sub-runs.
EXECUTOR ?= inline
RUN_OPTS = --executor $(EXECUTOR) $(if $(JOBS),--jobs $(JOBS)) $(if $(ADDRESS),--address $(ADDRESS)) \
           $(if $(SEEDS),--seeds $(SEEDS))

.PHONY: report test lint bench clean example

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files so that a second `make` installs nothing.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e '.[test,notebook,tensorboard,cluster]'
	touch $@

report: $(VENV)/.installed
	$(BIN)/mnistlab run all --profile $(PROFILE) --out $(OUT) $(RUN_OPTS)
	$(BIN)/mnistlab report --results $(OUT) --report-dir report
	@echo "open report/index.html"

# One part of the committed example report (the brief profile): make example TASKS="task3 task4"; without
# TASKS it only rebuilds examples/brief/index.html from the parts committed.
example: $(VENV)/.installed
	$(BIN)/mnistlab example $(TASKS) --profile $(EXAMPLE_PROFILE) --readme README.md

test: $(VENV)/.installed
	$(BIN)/ruff check src tests $(wildcard benchmarks)
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) results report .pytest_cache
