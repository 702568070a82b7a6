#!/usr/bin/env bash
# `make bench`: set everything up, then print the benchmark tables, each measured side by side:
# capture cost; the delivery engine (throughput against bare clients, isolation, several
# dispatchers, the queue_job peer); request shaping (templates, batches under a rate limit);
# commit-to-receipt latency; the outbox at a million rows; upgrading 100,000 pending deliveries.
# BENCH_CAPTURE_ARGS go to bench_capture.py (default --profile: where the flush's time goes), BENCH_SHAPING_ARGS (e.g. --quick) to bench_shaping.py.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export TEST_DB=${BENCH_DB:-account_webhook_bench}
scripts/setup.sh test
source var/pg.env
run() { echo; echo "==> $*"; .venv/bin/python -u "$@"; }
run bench/bench_capture.py "$TEST_DB" ${BENCH_CAPTURE_ARGS:---profile}
run bench/bench_engine.py "$TEST_DB"
run bench/bench_shaping.py "$TEST_DB" ${BENCH_SHAPING_ARGS:-}
run bench/bench_delivery.py "$TEST_DB"
run bench/bench_scale.py "$TEST_DB"
run bench/bench_upgrade.py
