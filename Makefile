# `make run` starts the gateway on its embedded default; `make test` runs every check and the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
# The simulated backend `make run` starts and points the demo configuration at.
DEMO_UPSTREAM_PORT ?= 8081
# A throwaway secret for checking the production settings; never used to serve anything.
CHECK_SECRET := check-deploy-$(shell od -An -N24 -tx1 /dev/urandom | tr -d ' \n')

.PHONY: install run test test-fast lint typecheck checks docs pytest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MANAGE) ensure_admin
	$(MANAGE) ensure_demo_key
	$(MANAGE) ensure_demo_config --upstream http://127.0.0.1:$(DEMO_UPSTREAM_PORT)
	$(MANAGE) serve --demo-upstream $(DEMO_UPSTREAM_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

checks: $(STAMP)
	DJANGO_SETTINGS_MODULE=routerproject.settings.test $(MANAGE) makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=routerproject.settings.test $(MANAGE) spectacular --validate --fail-on-warn --file /dev/null
	DJANGO_SETTINGS_MODULE=routerproject.settings.production DJANGO_SECRET_KEY=$(CHECK_SECRET) \
		ALLOWED_HOSTS=gateway.example.com $(MANAGE) check --deploy --fail-level WARNING

# The documentation site (docs/, mkdocs.yml) into $(VENV)/site; a broken link or anchor fails it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The project's bytecode first: with PYTHONDONTWRITEBYTECODE set (containers often set it), each of
# the hundreds of processes the suite starts would compile every module of the project again.
pytest: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 routerproject routing authjwt monitoring configversions \
		dashboard tests bench manage.py > /dev/null
	$(BIN)/python -m tests.backends $(PYTEST_ARGS)

test: lint typecheck checks docs pytest

# The development lane: lint, types and the tests that start no process (SQLite, state in memory),
# in a few minutes; `make test` remains the whole story.
test-fast: lint typecheck
	$(BIN)/python -m pytest -q -m "not processes and not fuzz" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
