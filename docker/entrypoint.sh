#!/bin/sh
# One image, several roles; the role is the container's command:
#   migrate           apply the migrations, once per deploy (the compose one-shot service, the
#                     Kubernetes Job); concurrent runs take turns on a PostgreSQL advisory lock
#   await-migrations  wait until they are applied (Kubernetes init container of web and worker)
#   web               gunicorn with uvicorn workers (docker/gunicorn.conf.py); never migrates
#   worker            a Celery worker
#   beat              Celery beat: exactly one per deployment, or every job runs twice
#   collectstatic     at image build time
# Anything else runs as given, e.g. `python manage.py createsuperuser`.
# Settings come from the environment (DJANGO_SETTINGS_MODULE, DATABASE_URL, REDIS_URL, ...).
set -eu
cd "$(dirname "$0")/.."

case "${1:-web}" in
  migrate)
    exec python manage.py migrate --noinput
    ;;
  await-migrations)
    deadline=$(($(date +%s) + ${MIGRATIONS_WAIT_SECONDS:-600}))
    until python manage.py migrate --check --noinput >/dev/null 2>&1; do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "Migrations still not applied (or the database unreachable) after" \
          "${MIGRATIONS_WAIT_SECONDS:-600}s: has the migrate role run?" >&2
        exit 1
      fi
      echo "Waiting for the migrations to be applied..."
      sleep "${MIGRATIONS_WAIT_INTERVAL:-3}"
    done
    echo "Migrations are applied."
    ;;
  web)
    exec gunicorn routerproject.asgi:application -c docker/gunicorn.conf.py
    ;;
  worker)
    exec celery -A routerproject worker --loglevel="${LOG_LEVEL:-INFO}" \
      --concurrency="${CELERY_CONCURRENCY:-2}"
    ;;
  beat)
    # The schedule file lives under ROUTER_VAR_DIR (CELERY_BEAT_SCHEDULE_FILENAME).
    exec celery -A routerproject beat --loglevel="${LOG_LEVEL:-INFO}"
    ;;
  collectstatic)
    # The production settings refuse to load without a secret and host names; neither is kept.
    DJANGO_SECRET_KEY="collectstatic-only-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" \
      ALLOWED_HOSTS=build exec python manage.py collectstatic --noinput
    ;;
  *)
    exec "$@"
    ;;
esac
