#!/bin/sh
# Videoflix container entrypoint (POSIX sh).
#  1. waits for PostgreSQL, at most DB_WAIT_TIMEOUT seconds;
#  2. unless ENTRYPOINT_SETUP=false: collectstatic, migrate, create the superuser once;
#  3. execs its arguments, or gunicorn when there are none.
set -eu

cd "$(dirname "$0")"

PYTHON="${PYTHON:-python}"
DB_HOST="${DB_HOST:-db}"
DB_PORT="${DB_PORT:-5432}"
DB_USER="${DB_USER:-videoflix}"
DB_WAIT_TIMEOUT="${DB_WAIT_TIMEOUT:-60}"

log() {
    printf '%s entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

wait_for_postgres() {
    waited=0
    until pg_isready -q -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -t 2; do
        if [ "$waited" -ge "$DB_WAIT_TIMEOUT" ]; then
            log "ERROR: PostgreSQL at $DB_HOST:$DB_PORT did not answer within ${DB_WAIT_TIMEOUT}s; giving up." >&2
            exit 1
        fi
        waited=$((waited + 1))
        sleep 1
    done
    log "PostgreSQL at $DB_HOST:$DB_PORT is ready."
}

wait_for_postgres

case "${ENTRYPOINT_SETUP:-true}" in
    true | 1 | yes)
        log "Collecting static files."
        "$PYTHON" manage.py collectstatic --noinput --verbosity 0
        log "Applying migrations."
        "$PYTHON" manage.py migrate --noinput
        "$PYTHON" manage.py ensure_superuser
        ;;
    *)
        log "Skipping start-up tasks (ENTRYPOINT_SETUP=${ENTRYPOINT_SETUP})."
        ;;
esac

if [ "$#" -eq 0 ]; then
    set -- gunicorn core.wsgi:application \
        --bind "${GUNICORN_BIND:-0.0.0.0:8000}" \
        --workers "${GUNICORN_WORKERS:-3}" \
        --worker-class gthread \
        --threads "${GUNICORN_THREADS:-1}" \
        --timeout "${GUNICORN_TIMEOUT:-120}" \
        --access-logfile - \
        --error-logfile -
    case "${GUNICORN_RELOAD:-false}" in
        true | 1 | yes) set -- "$@" --reload ;;
        *) ;;
    esac
fi

log "Starting: $*"
exec "$@"
