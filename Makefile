# Videoflix: `make run` starts the app, `make test` runs lint and the whole test suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WEB_WORKERS ?= 2
RQ_QUEUES ?= default transcode

# Which PostgreSQL and Redis `run` and `test` use (a .env, servers that answer on 127.0.0.1, or
# embedded ones under .local/) is decided by the launcher: localdev/choice.py.

.PHONY: help venv ffmpeg test-tools chromium frontend setup run test lint format containers-check smoke clean

help:
	@echo "make run               set up and start gunicorn + one RQ worker (Ctrl-C stops everything)"
	@echo "                       PORT=8001 for another port; VIDEOFLIX_EMBEDDED=1 for the embedded servers"
	@echo "make test              set up, then ruff and the whole pytest suite (PYTEST_ARGS=... for a part)"
	@echo "make containers-check  validate docker-compose.yml, hadolint the Dockerfile, shellcheck"
	@echo "make smoke             run backend.entrypoint.sh on this host and probe /api/health/"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

ffmpeg:
	@if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing ffmpeg with apt-get..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	else \
		echo "ffmpeg/ffprobe are missing. Install them first, e.g. 'sudo apt-get install ffmpeg' or 'brew install ffmpeg'."; \
		exit 1; \
	fi

# The tests that run the shipped nginx configuration need nginx and its JavaScript module (njs,
# which checks signed segment URLs); as root they are installed.
NGINX_JS_MODULE := /usr/lib/nginx/modules/ngx_http_js_module.so
test-tools: ffmpeg
	@if command -v nginx >/dev/null && [ -e $(NGINX_JS_MODULE) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing nginx and its JavaScript module with apt-get (for the nginx tests)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-http-js >/dev/null; \
	else \
		echo "nginx or its JavaScript module is missing: the tests of tests/video/test_streaming_nginx.py" \
			"will skip. Install them with 'sudo apt-get install nginx libnginx-mod-http-js'."; \
	fi

# The npm libraries, pinned by package-lock.json (never a CDN): Uppy and hls.js for the admin's
# uploader and preview, hls.js for the viewer browser test, esbuild to bundle them.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; } \
		|| { echo "npm is missing. Install Node.js and npm first, e.g. 'sudo apt-get install npm'."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The admin's browser code (frontend/src/) bundled with those libraries into frontend/dist/staff/,
# which collectstatic collects and WhiteNoise serves (git-ignored, rebuilt when a source changes).
frontend/dist/.built: node_modules/.installed frontend/build.mjs $(wildcard frontend/src/*)
	npm run --silent build
	touch $@

frontend: frontend/dist/.built

# Debian's Chromium for the browser tests (tests/e2e/test_viewer_browser.py), never Playwright's download.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing chromium with apt-get (for the browser tests)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is missing: the browser tests will skip. Install it with 'sudo apt-get install chromium'."; \
	fi

setup: venv ffmpeg

# The launcher starts embedded servers when needed, creates the database, migrates, creates an
# admin for development when there is none, collects static files, then gunicorn and the worker.
run: setup frontend
	$(PY) -m localdev run --port $(PORT) --web-workers $(WEB_WORKERS) --queues "$(RQ_QUEUES)"

# Tests use their own Redis databases (14, 15) or throw-away embedded servers, so a running
# `make run` keeps its data; the launcher stops what it started even when the tests fail.
test: venv test-tools chromium frontend lint
	$(PY) -m localdev test -- $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# docker-compose v1 (Python) validates the Compose file without an engine; it pins old
# libraries, so it lives in its own virtualenv.
.venv-tools/.installed:
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet --upgrade pip
	.venv-tools/bin/pip install --quiet --no-deps docker-compose==1.29.2
	.venv-tools/bin/pip install --quiet "docker==7.1.0" "dockerpty==0.4.1" "docopt==0.6.2" \
		"jsonschema==3.2.0" "texttable==1.7.0" "websocket-client==0.59.0" "distro==1.9.0" \
		"PyYAML==6.0.2" "requests==2.32.3" "python-dotenv==0.21.1"
	touch $@

# The Compose file reads `.env`; a fresh clone has none, so the example stands in for the check.
containers-check: venv .venv-tools/.installed
	@created=; if [ ! -f .env ]; then cp .env.example .env; created=1; fi; \
	status=0; \
	for files in "-f docker-compose.yml" "-f docker-compose.yml -f docker-compose.dev.yml"; do \
		.venv-tools/bin/docker-compose --env-file .env.example $$files --profile proxy --profile s3 config --quiet \
			|| status=1; \
	done; \
	[ -z "$$created" ] || rm -f .env; \
	exit $$status
	$(VENV)/bin/hadolint backend.Dockerfile
	shellcheck -s sh backend.entrypoint.sh
	@echo "Container files are valid."

smoke: venv ffmpeg
	bash .ci/smoke-entrypoint

clean:
	rm -rf $(VENV) .venv-tools static .pytest_cache .ruff_cache node_modules frontend/dist
	@echo "Kept .local/ (the embedded servers' data and the development admin's login); rm -rf .local to drop it."
