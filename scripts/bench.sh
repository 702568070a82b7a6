#!/usr/bin/env bash
# `make bench`: set everything up, then print the benchmark tables (capture cost; delivery throughput).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export TEST_DB=${BENCH_DB:-account_webhook_bench}
scripts/setup.sh test
source var/pg.env
.venv/bin/python -u bench/bench_capture.py "$TEST_DB" "$@"
.venv/bin/python -u bench/bench_delivery.py "$TEST_DB"
