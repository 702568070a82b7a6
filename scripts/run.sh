#!/usr/bin/env bash
# `make run`: set everything up, then serve Odoo with account_webhook on http://localhost:8069,
# with the example receiver (examples/receiver.py) printing the callbacks it gets, and the example
# accounting API (examples/invoice_item_api.py) the demo's invoice-item callbacks talk to.
# `WORKERS=N make run`: production mode instead: Odoo's prefork server (N HTTP workers, cron
# workers, the gevent longpolling process) on 127.0.0.1:8079 and :8072, behind nginx on :8069
# (configured from scripts/nginx.conf.in, files under var/nginx/run/).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN_DB=${RUN_DB:-account_webhook}
RECEIVER_PORT=${RECEIVER_PORT:-8075}
API_PORT=${API_PORT:-8076}
WORKERS=${WORKERS:-0}
case $WORKERS in
    '' | *[!0-9]*) echo "WORKERS must be a number of HTTP workers (0: threaded mode), not '$WORKERS'" >&2; exit 2 ;;
esac
export RUN_DB WORKERS
"$ROOT/scripts/setup.sh" run
source "$ROOT/var/pg.env"
PY=$ROOT/.venv/bin/python

# the addon is updated first, so that the receiver knows the keys of the callbacks pointing at it
"$PY" "$ROOT/scripts/odoo" -c "$ROOT/var/odoo.conf" -d "$RUN_DB" -u account_webhook --stop-after-init \
    --log-level=warn --logfile="$ROOT/var/log/odoo.log"
KEYS=$(psql -h "$PGHOST" -p "$PGPORT" -U "${ODOO_DB_USER:-odoo}" -d "$RUN_DB" -qAt -c \
    "SELECT string_agg(key, ',') FROM webhook_callback WHERE url LIKE 'http://127.0.0.1:$RECEIVER_PORT/%'")
RECEIVER= API=
stop_examples() { kill $RECEIVER $API 2>/dev/null || true; }
if [ -n "$KEYS" ]; then
    WEBHOOK_KEYS=$KEYS "$PY" "$ROOT/examples/receiver.py" --port "$RECEIVER_PORT" &
    RECEIVER=$!
fi
# the example accounting API the demo's invoice-item callbacks keep in step (README: "A receiver
# that is an API"); its request log: http://127.0.0.1:$API_PORT/api/Billing/Items
INVOICE_API_KEY=demo-api-key "$PY" "$ROOT/examples/invoice_item_api.py" --port "$API_PORT" &
API=$!
trap stop_examples EXIT
# the addon hooks into the server when it is loaded server-wide
ODOO=("$PY" "$ROOT/scripts/odoo" -c "$ROOT/var/odoo.conf" -d "$RUN_DB" --db-filter="^$RUN_DB\$"
      --load=base,web,account_webhook --logfile="$ROOT/var/log/odoo.log")

if [ "$WORKERS" = 0 ]; then
    echo "==> Odoo on http://localhost:8069  (database $RUN_DB, login admin / admin; Ctrl+C stops)"
    echo "    Odoo's log: var/log/odoo.log. Callbacks to the example receiver are printed below."
    "${ODOO[@]}" --http-port="${HTTP_PORT:-8069}"
    exit
fi

# Production mode. Odoo and nginx each run in a session of their own, so that stopping them
# reaches every process they started: Ctrl+C (or any exit) stops Odoo gracefully, then nginx.
PUBLIC_PORT=${HTTP_PORT:-8069}
ODOO_HTTP_PORT=${ODOO_HTTP_PORT:-8079}
LONGPOLLING_PORT=${LONGPOLLING_PORT:-8072}
NGINX_PREFIX=$ROOT/var/nginx/run
ODOO_PID= NGINX_PID=
stop_all() {
    trap - EXIT
    trap '' INT TERM   # a second Ctrl+C must not cut this short: it is bounded anyway
    if [ -n "$ODOO_PID" ]; then
        kill -TERM "$ODOO_PID" 2>/dev/null || true     # the master stops its workers and gevent process
        for _ in $(seq 100); do                          # for up to 20 s
            case $(ps -o stat= -p "$ODOO_PID" 2>/dev/null || echo gone) in Z* | gone) break ;; esac
            sleep 0.2
        done
        kill -KILL -- "-$ODOO_PID" 2>/dev/null || true  # whatever of its session is still there
        wait "$ODOO_PID" 2>/dev/null || true
    fi
    if [ -n "$NGINX_PID" ]; then
        kill -TERM -- "-$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    stop_examples
}
trap stop_all EXIT
trap 'exit 130' INT TERM

mkdir -p "$NGINX_PREFIX/logs" "$NGINX_PREFIX/tmp"
sed -e "s/@LISTEN@/$PUBLIC_PORT/" -e "s/@ODOO_HTTP_PORT@/$ODOO_HTTP_PORT/" \
    -e "s/@ODOO_LONGPOLLING_PORT@/$LONGPOLLING_PORT/" "$ROOT/scripts/nginx.conf.in" > "$NGINX_PREFIX/nginx.conf"
NGINX=("$(command -v nginx || echo /usr/sbin/nginx)" -p "$NGINX_PREFIX" -c "$NGINX_PREFIX/nginx.conf")
"${NGINX[@]}" -q -t

# The gevent process prints one line per long poll on stderr; nginx's access log has them all.
setsid "${ODOO[@]}" --workers="$WORKERS" --http-interface=127.0.0.1 --http-port="$ODOO_HTTP_PORT" \
    --longpolling-port="$LONGPOLLING_PORT" --proxy-mode \
    2> >(grep --line-buffered -v '"[A-Z]* /longpolling/' >&2) &
ODOO_PID=$!
setsid "${NGINX[@]}" -g 'daemon off;' &
NGINX_PID=$!
echo "==> Odoo in production mode on http://localhost:$PUBLIC_PORT  (database $RUN_DB, login admin / admin;"
echo "    Ctrl+C stops): nginx in front of $WORKERS HTTP workers (127.0.0.1:$ODOO_HTTP_PORT) and the"
echo "    longpolling process (127.0.0.1:$LONGPOLLING_PORT). Logs: var/log/odoo.log, var/nginx/run/logs/."
echo "    Callbacks to the example receiver are printed below."
set +e
wait -n "$ODOO_PID" "$NGINX_PID"
status=$?
if [ "$status" -lt 128 ]; then
    echo "==> $( kill -0 "$ODOO_PID" 2>/dev/null && echo nginx || echo Odoo ) stopped (exit $status): stopping the rest" >&2
fi
exit "$status"
