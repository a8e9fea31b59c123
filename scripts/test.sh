#!/usr/bin/env bash
# Sets everything up, starts a throw-away PostgreSQL server, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z "${SCRIBE_TEST_POSTGRES_URL:-}" && -n "$PGBIN" && $(id -u) == 0 ]]; then
  PGROOT=$(mktemp -d /tmp/scribe-pg.XXXXXX); chown postgres "$PGROOT"
  PGPORT=${PGPORT:-55432}
  su postgres -c "$PGBIN/initdb -D $PGROOT/data -A trust -U postgres" >/dev/null
  su postgres -c "$PGBIN/pg_ctl -D $PGROOT/data -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1' -l $PGROOT/log -w start" >/dev/null
  trap "su postgres -c '$PGBIN/pg_ctl -D $PGROOT/data -m immediate stop' >/dev/null 2>&1 || true" EXIT
  su postgres -c "$PGBIN/createdb -h 127.0.0.1 -p $PGPORT scribe_test"
  export SCRIBE_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PGPORT/scribe_test"
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
