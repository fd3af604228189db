# Videoflix: `make run` starts the app, `make test` runs lint and the whole test suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WEB_WORKERS ?= 2
RQ_QUEUES ?= default transcode

# Without a .env, use PostgreSQL and Redis on this machine; a .env overrides all of this.
ifeq ($(wildcard .env),)
export DB_HOST ?= 127.0.0.1
export DB_PORT ?= 5432
export DB_USER ?= postgres
export DB_NAME ?= videoflix
export REDIS_HOST ?= 127.0.0.1
export REDIS_PORT ?= 6379
export REDIS_LOCATION ?= redis://127.0.0.1:6379/1
endif

.PHONY: help venv ffmpeg setup run test lint format containers-check smoke clean

help:
	@echo "make run               set up and start gunicorn + one RQ worker (Ctrl-C stops both)"
	@echo "make test              set up, then ruff and the whole pytest suite"
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

setup: venv ffmpeg
	$(PY) manage.py ensure_database
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_superuser
	$(PY) manage.py collectstatic --noinput --verbosity 0

run: setup
	@echo ""
	@echo "  API        http://127.0.0.1:$(PORT)/api/"
	@echo "  Health     http://127.0.0.1:$(PORT)/api/health/"
	@echo "  Admin      http://127.0.0.1:$(PORT)/admin/"
	@echo "  RQ         http://127.0.0.1:$(PORT)/django-rq/"
	@echo "  API docs   http://127.0.0.1:$(PORT)/api/docs/"
	@echo ""
	@trap 'kill $$web $$worker 2>/dev/null; wait' INT TERM EXIT; \
	$(PY) manage.py rqworker $(RQ_QUEUES) --with-scheduler & worker=$$!; \
	GUNICORN_BIND=0.0.0.0:$(PORT) GUNICORN_WORKERS=$(WEB_WORKERS) \
		$(VENV)/bin/gunicorn -c gunicorn.conf.py core.wsgi:application & web=$$!; \
	wait -n $$web $$worker

# Tests use their own Redis databases so a running `make run` keeps its queues and cache.
test: export REDIS_DB ?= 14
test: export REDIS_LOCATION := $(or $(TEST_REDIS_LOCATION),redis://$(or $(REDIS_HOST),127.0.0.1):$(or $(REDIS_PORT),6379)/15)
test: venv ffmpeg lint
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

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
		.venv-tools/bin/docker-compose --env-file .env.example $$files --profile proxy config --quiet \
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
	rm -rf $(VENV) .venv-tools static .pytest_cache .ruff_cache
