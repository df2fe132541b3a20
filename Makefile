# Everything a newcomer needs: `make run` starts the system, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test suite lint demo bench simulate clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)            ## set up and start everything on the embedded default (Ctrl-C stops it)
	$(BIN)/registro run

test: lint suite         ## set up, lint, type-check, run the suite (on an embedded PostgreSQL of its own)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

suite: $(STAMP)          ## the suite alone; REGISTRO_TEST_DATABASE_URL=<a server's maintenance database> to use another server
	$(BIN)/pytest -q

demo: $(STAMP)           ## load demonstration data into ./var
	$(BIN)/registro demo-data

bench: $(STAMP)           ## print the benchmarks' figures (lifecycle through HTTP, daily sweeps)
	$(BIN)/python bench/lifecycle_http.py
	$(BIN)/python bench/sweeps.py

simulate: $(STAMP)        ## four simulated years of 200 districts (database of its own under var/simulazione)
	$(BIN)/registro simulate --districts 200 --years 4

clean:
	rm -rf $(VENV) var
