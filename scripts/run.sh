#!/usr/bin/env bash
# `make run`: set everything up, then serve Odoo with account_webhook on http://localhost:8069,
# with the example receiver (examples/receiver.py) printing the callbacks it gets.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DB=${RUN_DB:-account_webhook}
RECEIVER_PORT=${RECEIVER_PORT:-8075}
export RUN_DB
"$ROOT/scripts/setup.sh" run
source "$ROOT/var/pg.env"
PY=$ROOT/.venv/bin/python

# the addon is updated first, so that the receiver knows the keys of the callbacks pointing at it
"$PY" "$ROOT/scripts/odoo" -c "$ROOT/var/odoo.conf" -d "$RUN_DB" -u account_webhook --stop-after-init \
    --log-level=warn --logfile="$ROOT/var/log/odoo.log"
KEYS=$(psql -h "$PGHOST" -p "$PGPORT" -U "${ODOO_DB_USER:-odoo}" -d "$RUN_DB" -qAt -c \
    "SELECT string_agg(key, ',') FROM webhook_callback WHERE url LIKE 'http://127.0.0.1:$RECEIVER_PORT/%'")
if [ -n "$KEYS" ]; then
    WEBHOOK_KEYS=$KEYS "$PY" "$ROOT/examples/receiver.py" --port "$RECEIVER_PORT" &
    RECEIVER=$!
    trap 'kill $RECEIVER 2>/dev/null' EXIT
fi
echo "==> Odoo on http://localhost:8069  (database $RUN_DB, login admin / admin; Ctrl+C stops)"
echo "    Odoo's log: var/log/odoo.log. Callbacks to the example receiver are printed below."
"$PY" "$ROOT/scripts/odoo" -c "$ROOT/var/odoo.conf" -d "$RUN_DB" --db-filter="^$RUN_DB\$" \
    --http-port="${HTTP_PORT:-8069}" --logfile="$ROOT/var/log/odoo.log"
