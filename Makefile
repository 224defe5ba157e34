# Servicios Virtuales: `make run` serves the app, `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
STAMP := $(VENV)/.installed

export FLASK_APP := wsgi

.PHONY: run test venv migrate content demo lint format screenshots bench clean assets

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Se necesita Python 3.11 ($(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	$(BIN)/flask db upgrade

content: migrate
	$(BIN)/flask sv content load

demo: content
	$(BIN)/flask sv demo

run: demo
	@echo "Servicios Virtuales en http://$(HOST):$(PORT)"
	SV_JOBS_INTERVAL=$${SV_JOBS_INTERVAL:-60} \
		$(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

test: venv
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: venv
	$(BIN)/ruff check sv_platform tests bench migrations wsgi.py gunicorn.conf.py
	$(BIN)/ruff format --check sv_platform tests bench migrations wsgi.py gunicorn.conf.py

format: venv
	$(BIN)/ruff check --fix sv_platform tests bench migrations wsgi.py gunicorn.conf.py
	$(BIN)/ruff format sv_platform tests bench migrations wsgi.py gunicorn.conf.py

# Refresh the screenshots committed in docs/screenshots/ (tests write elsewhere).
screenshots: venv
	SV_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -n 2 --dist loadgroup tests/e2e

# Rebuild the scripts (assets/js → static/js, minified), the CSS subset (needs Node and
# npm; development only) and the precompressed static files. The output is committed: `make run` and `make test` never need Node.
assets: venv
	cd assets && npm ci --no-audit --no-fund && node build.mjs
	$(BIN)/python -m sv_platform.assets

clean:
	rm -rf $(VENV) instance/*.sqlite3* .pytest_cache
