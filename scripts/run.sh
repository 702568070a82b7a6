#!/usr/bin/env bash
# `make run`: set everything up, then serve Odoo with account_webhook on http://localhost:8069.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DB=${RUN_DB:-account_webhook}
export RUN_DB
"$ROOT/scripts/setup.sh" run
source "$ROOT/var/pg.env"
echo "==> Odoo on http://localhost:8069  (database $RUN_DB, login admin / admin; Ctrl+C stops)"
echo "    log: var/log/odoo.log"
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/odoo" -c "$ROOT/var/odoo.conf" -d "$RUN_DB" --db-filter="^$RUN_DB\$" \
    -u account_webhook --http-port="${HTTP_PORT:-8069}" --logfile="$ROOT/var/log/odoo.log"
