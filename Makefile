# The two commands: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask
PYBABEL := $(VENV)/bin/pybabel
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint setup venv assets translations browser java db demo test-sqlite test-postgresql \
        messages serve clean bench

run: setup db demo serve

# The web server and the background worker (mail, upload checks, reminders, the digest),
# from the Procfile; Ctrl-C stops both.
serve:
	$(VENV)/bin/honcho --no-colour start -f Procfile

setup: venv translations assets

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $@

# Regenerate the hash-locked requirements.txt and requirements-dev.txt from requirements.in
# and requirements-dev.in (the direct dependencies): every package, transitive ones too,
# pinned with the hashes of all its files. The runtime lock comes first: the dev lock is
# constrained by it, so both hold the same versions. Versions already locked are kept;
# `make lock UPGRADE="NAME ..."` moves those packages to their newest allowed version.
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-trusted-host --no-emit-find-links --resolver=backtracking \
	$(foreach p,$(UPGRADE),--upgrade-package $(p))

.PHONY: lock
lock: venv
	$(PIP_COMPILE) --output-file=requirements.txt requirements.in
	$(PIP_COMPILE) --output-file=requirements-dev.txt requirements-dev.in

# Then every static file is copied under a name carrying its content's hash, listed in
# static/cache_manifest.json (Flask-Static-Digest; SPEC 8.5), our own CSS and JS minified:
# run again after editing one.
assets: static/vendor/htmx.min.js venv
	$(FLASK) digest clean >/dev/null
	$(FLASK) build-static

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

static/vendor/htmx.min.js: node_modules/.installed
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

translations: venv
	$(PYBABEL) compile --statistics -d portal/translations

# Re-extract strings after changing them; then translate portal/translations/fr_CA.
messages: venv
	$(PYBABEL) extract -F babel.cfg -k _l --ignore-dirs '.* __pycache__ node_modules' -o portal/translations/messages.pot .
	$(PYBABEL) update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching --ignore-obsolete

db: venv
	mkdir -p instance
	$(FLASK) db upgrade

demo: venv
	$(FLASK) seed-demo

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@test -x $(CHROMIUM) || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# Debian's nginx for the deployment smoke test (tests/test_deploy.py): the test runs its own
# nginx process on free ports with its own configuration; the system service is not used.
nginx:
	@test -x /usr/sbin/nginx || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }

# Debian's Java for the Nu HTML Checker (npm's vnu-jar) in tests/test_valid_html.py.
java:
	@command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null; }

# Static checks, all with zero findings (CI runs them before the tests): ruff, mypy on
# portal/ (settings in pyproject.toml), the layer contract between packages, and no
# function ranked D or worse by radon (cyclomatic complexity above 20).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	@complex="$$($(VENV)/bin/radon cc -n D -s portal)" || exit 1; \
	if [ -n "$$complex" ]; then \
		echo "Too complex (radon rank D or worse):"; echo "$$complex"; exit 1; \
	fi

# The whole suite on SQLite and on PostgreSQL (a dedicated database is created and dropped;
# on CI PostgreSQL is mandatory), the two runs side by side, one a core: each writes its
# report to test-artifacts/, printed when both have ended; either failing fails the target.
# pytest fails when no test was collected; each report ends with its 30 slowest tests.
# `setup` has built the static files, so the runs do not build them again at the same time
# (PORTAL_STATIC_BUILT).
test: setup browser nginx java
	@mkdir -p test-artifacts
	@export PORTAL_STATIC_BUILT=1; \
	PORTAL_TEST_DB=sqlite $(PY) -m pytest -p no:cacheprovider --durations=30 \
		>test-artifacts/pytest-sqlite.log 2>&1 & sqlite=$$!; \
	PORTAL_TEST_DB=postgresql $(PY) -m pytest -p no:cacheprovider --durations=30 \
		>test-artifacts/pytest-postgresql.log 2>&1 & postgresql=$$!; \
	wait $$sqlite; sqlite_rc=$$?; wait $$postgresql; postgresql_rc=$$?; \
	echo "=== SQLite (exit $$sqlite_rc)"; cat test-artifacts/pytest-sqlite.log; \
	echo "=== PostgreSQL (exit $$postgresql_rc)"; cat test-artifacts/pytest-postgresql.log; \
	test $$sqlite_rc -eq 0 && test $$postgresql_rc -eq 0

test-sqlite: setup browser nginx java
	PORTAL_TEST_DB=sqlite $(PY) -m pytest

test-postgresql: setup browser nginx java
	PORTAL_TEST_DB=postgresql $(PY) -m pytest

# The staff pages at 100,000 patients on PostgreSQL and SQLite (SPEC 8.5): seeds each
# database once (kept for the next run), then prints server times and a worker's memory.
# BENCH_DATABASE_URL picks the PostgreSQL database (default: ims_portal_bench, local).
# Then the peak memory of a web worker and of the task worker while 20 patients upload 5
# photos of 9 MB at once, and on one 49-megapixel image (issue 11): gunicorn and
# `flask worker` on a fresh database each run; Redis holds the PostgreSQL run's queue.
bench: setup
	$(PY) bench/run.py
	$(PY) bench/uploads.py --backend sqlite
	$(PY) bench/uploads.py --backend postgresql

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache test-artifacts
