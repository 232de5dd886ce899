#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server on a loopback port.
# Usage: scripts/with-postgres.sh COMMAND...   (exports LAKANA_TEST_DATABASE_URL)
set -euo pipefail
# A free loopback port unless one is given, so that parallel runs do not collide.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
PORT="${LAKANA_PG_PORT:-$(free_port)}"
BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "with-postgres: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 2
fi
dir=$(mktemp -d /tmp/lakana-pg.XXXXXX)
as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = "0" ] && chown postgres "$dir"
cleanup() {
  as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
as_owner "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_owner "$BIN/pg_ctl" -D "$dir/data" -w -l "$dir/log" \
  -o "-p $PORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
  start >/dev/null
export LAKANA_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
echo "with-postgres: PostgreSQL on 127.0.0.1:$PORT"
"$@"
