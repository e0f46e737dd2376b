#!/bin/sh
# Entry point of the server image: apply the database migrations (unless RETAIL_MIGRATE=0), then exec the command.
# With several replicas, let one of them (or a one-shot job) migrate and set RETAIL_MIGRATE=0 on the others.
set -eu

: "${RETAIL_MIGRATE:=1}"
: "${RETAIL_MIGRATE_ATTEMPTS:=30}"
: "${RETAIL_MIGRATE_DELAY_S:=2}"

if [ "$RETAIL_MIGRATE" = "1" ]; then
  attempt=1
  until retail-server manage migrate --noinput; do
    if [ "$attempt" -ge "$RETAIL_MIGRATE_ATTEMPTS" ]; then
      echo "retail-server-entrypoint: migrations failed $attempt times; giving up (is DATABASE_URL right?)" >&2
      exit 1
    fi
    echo "retail-server-entrypoint: database not ready (attempt $attempt/$RETAIL_MIGRATE_ATTEMPTS); retrying in ${RETAIL_MIGRATE_DELAY_S}s" >&2
    attempt=$((attempt + 1))
    sleep "$RETAIL_MIGRATE_DELAY_S"
  done
fi

exec "$@"
