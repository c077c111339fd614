#!/bin/sh
# One image, three roles: web (migrates first), worker, beat.
set -e
case "${1:-web}" in
  web)
    python manage.py migrate --noinput
    exec gunicorn routerproject.asgi:application -c /app/docker/gunicorn.conf.py
    ;;
  worker)
    exec celery -A routerproject worker --loglevel="${LOG_LEVEL:-INFO}" --concurrency="${CELERY_CONCURRENCY:-2}"
    ;;
  beat)
    exec celery -A routerproject beat --loglevel="${LOG_LEVEL:-INFO}" \
      --schedule /var/lib/router/celerybeat-schedule
    ;;
  *)
    exec "$@"
    ;;
esac
