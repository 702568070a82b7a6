#!/usr/bin/env bash
# `make test`: set everything up, run the static checks, then the whole pytest suite
# against a fresh test database. Extra arguments go to pytest.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TEST_DB=${TEST_DB:-account_webhook_test}
export TEST_DB
scripts/setup.sh test
source var/pg.env
echo "==> static checks: vermin (account_webhook/ valid on Python 3.5), ruff, pylint-odoo (.pylintrc)"
.venv/bin/vermin --no-tips --violations -t=3.5- account_webhook
.venv/bin/ruff check .
.venv/bin/pylint --rcfile=.pylintrc --ignore=tests account_webhook
# the tests with three more messages off (why: .pylintrc)
.venv/bin/pylint --rcfile=.pylintrc --disable=missing-return,super-method-mismatch,odoo-addons-relative-import \
    account_webhook/tests
echo "==> pytest"
export PYTHONPATH=$ROOT
exec .venv/bin/python -m pytest --odoo-config=var/odoo.conf --odoo-database="$TEST_DB" --durations=8 "$@"
