#!/bin/sh
# Videoflix container entrypoint (POSIX sh).
#  1. waits for PostgreSQL, at most DB_WAIT_TIMEOUT seconds;
#  2. unless ENTRYPOINT_SETUP=false: collectstatic, migrate, create the superuser once, and with
#     MEDIA_STORAGE=s3 set the bucket up (manage.py storage_setup, idempotent);
#  3. execs its arguments, or gunicorn with gunicorn.conf.py when there are none.
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

# The store may start after web (Compose starts them together): try for STORE_WAIT_TIMEOUT seconds.
set_up_bucket() {
    waited=0
    until "$PYTHON" manage.py storage_setup; do
        if [ "$waited" -ge "${STORE_WAIT_TIMEOUT:-60}" ]; then
            log "ERROR: the media bucket could not be set up within ${STORE_WAIT_TIMEOUT:-60}s; giving up." >&2
            exit 1
        fi
        waited=$((waited + 5))
        sleep 5
    done
}

wait_for_postgres

case "${ENTRYPOINT_SETUP:-true}" in
    true | 1 | yes)
        log "Collecting static files."
        "$PYTHON" manage.py collectstatic --noinput --verbosity 0
        log "Applying migrations."
        "$PYTHON" manage.py migrate --noinput
        "$PYTHON" manage.py ensure_superuser
        if [ "${MEDIA_STORAGE:-local}" = "s3" ]; then
            set_up_bucket
        fi
        ;;
    *)
        log "Skipping start-up tasks (ENTRYPOINT_SETUP=${ENTRYPOINT_SETUP})."
        ;;
esac

if [ "$#" -eq 0 ]; then
    # Bind, workers, threads, timeout and reload come from GUNICORN_* (see gunicorn.conf.py).
    set -- gunicorn -c gunicorn.conf.py core.wsgi:application
fi

log "Starting: $*"
exec "$@"
