# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The outbox at a million rows: what a backlog costs the dispatcher, the web client and housekeeping.

A scratch database (a copy of DB, or of scripts/setup.sh's base database with the addon installed
when DB is in use) is filled with SQL to --deliveries deliveries (1 % still to send, 5 % failed, the
rest delivered over the last 100 days) and about --attempts attempts across --callbacks callbacks,
VACUUM ANALYZEd, then measured:

1. the failing-callback check (webhook.callback._deactivate_failing, rolled back), median;
2. claims (runtime.claiming.claim of 64 on a psycopg2 cursor, rolled back): p50 / p95, on a connection
   as the dispatcher makes them (statements prepared, generic plans) and on a plain one;
3. the web client over HTTP: a real Odoo server on a free port (no dispatcher, no cron), JSON-RPC as
   the web client asks: the deliveries list (/web/dataset/search_read, 80 rows ordered id desc, and
   the count it does), its filters and groupings (read_group), a search by record, the callback
   form (/web/dataset/call_kw read of the form's fields, delivery_count and health included);
4. a full housekeeping run (webhook.delivery._housekeeping, committing): rows deleted per second and
   the longest single transaction.

Goals: each interactive figure under 1 s, no housekeeping transaction over 5 s. The scratch
database is dropped at the end (--keep keeps it).

Usage: python bench/bench_scale.py DB [--deliveries N] [--attempts N] [--callbacks N] [--rounds R] [--keep]
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import odoo_compat  # noqa: E402

odoo_compat.install()
import odoo  # noqa: E402

odoo_compat.patch_odoo()
import requests  # noqa: E402

from tests.conftest import OdooServer  # noqa: E402
from tests.pgtools import connect  # noqa: E402
from tests.test_scale import (create_scratch, dispatcher_connection, drop_scratch,  # noqa: E402
                              fill_outbox, percentile, table_sizes)

INTERACTIVE_GOAL, TRANSACTION_GOAL = 1.0, 5.0
CONTEXT = {'lang': 'en_US', 'tz': False, 'uid': 1}


def ms(seconds):
    return '%7.1f ms' % (seconds * 1000)


def failing_check(registry, rounds):
    from odoo import SUPERUSER_ID, api
    from odoo.tools import mute_logger
    timings = []
    with api.Environment.manage(), registry.cursor() as cr:
        for _round in range(rounds):
            env = api.Environment(cr, SUPERUSER_ID, {})
            started = time.perf_counter()
            with mute_logger('odoo.addons.account_webhook.models.webhook_callback'):
                failing = env['webhook.callback']._deactivate_failing()
            timings.append(time.perf_counter() - started)
            cr.rollback()
    return timings, len(failing)


def claims_latency(database, config, rounds, prepared, capacity=64):
    from odoo.addons.account_webhook.runtime import claiming
    from odoo.addons.account_webhook.runtime.state import read_state
    conn = dispatcher_connection(database, config) if prepared else connect(database, config)
    timings, claimed = [], 0
    try:
        cr = conn.cursor()
        for _round in range(rounds):
            started = time.perf_counter()
            claimed = len(claiming.claim(cr, read_state(cr), capacity))
            timings.append(time.perf_counter() - started)
            conn.rollback()
    finally:
        conn.close()
    return timings, claimed


class WebClient(object):
    """JSON-RPC as the Odoo 11 web client speaks it, logged in as admin."""

    def __init__(self, url, database):
        self.url, self.session = url, requests.Session()
        self.call('/web/session/authenticate', db=database, login='admin', password='admin')

    def call(self, path, **params):
        response = self.session.post(self.url + path, json={'jsonrpc': '2.0', 'method': 'call', 'params': params,
                                                            'id': 1}, timeout=120)
        body = response.json()
        if 'error' in body:
            raise RuntimeError('%s: %s' % (path, body['error'].get('data', {}).get('message', body['error'])))
        return body['result']

    def call_kw(self, model, method, args, **kwargs):
        kwargs.setdefault('context', CONTEXT)
        return self.call('/web/dataset/call_kw/%s/%s' % (model, method), model=model, method=method, args=args,
                         kwargs=kwargs)

    def fields_of(self, model, view_type):
        return list(self.call_kw(model, 'fields_view_get', [], view_type=view_type)['fields'])

    def search_read(self, model, fields, domain, limit=80):
        return self.call('/web/dataset/search_read', model=model, fields=fields, domain=domain, context=CONTEXT,
                         offset=0, limit=limit, sort='')


def web_requests(client, callback_id, res_id):
    """``[(label, callable)]``: what the web client asks for the deliveries list and a callback form."""
    list_fields = client.fields_of('webhook.delivery', 'tree')
    form_fields = client.fields_of('webhook.callback', 'form')

    def listing(domain):
        return lambda: client.search_read('webhook.delivery', list_fields, domain)

    def grouping(field, domain=()):
        return lambda: client.call_kw('webhook.delivery', 'read_group', [list(domain), list_fields, [field]],
                                      lazy=True, orderby='')
    return [
        ('deliveries list (80 rows, id desc, + count)', listing([])),
        ('  filter Failed', listing([['state', '=', 'failed']])),
        ('  filter Pending', listing([['state', '=', 'pending']])),
        ('  filter Delivered', listing([['state', '=', 'done']])),
        ('  search Record ID', listing([['res_id', '=', res_id]])),
        ('  search Model (ilike)', listing([['res_model', 'ilike', 'partner']])),
        ("  a callback's deliveries (Related records)", listing([['callback_id', '=', callback_id]])),
        ('  group by State', grouping('state')),
        ('  group by Callback', grouping('callback_id')),
        ('  group by Model', grouping('res_model')),
        ('  Failed, group by Callback', grouping('callback_id', [['state', '=', 'failed']])),
        ('callback form (read, delivery_count, health)',
         lambda: client.call_kw('webhook.callback', 'read', [[callback_id], form_fields])),
    ]


def measure_web(config, database, callback_id, rounds):
    server = OdooServer(config, database)
    try:
        client = WebClient(server.url, database)
        results = []
        for label, request in web_requests(client, callback_id, 4242):
            request()  # warm-up: the server's caches, as a second visit finds them
            timings = []
            for _round in range(rounds):
                started = time.perf_counter()
                request()
                timings.append(time.perf_counter() - started)
            results.append((label, timings))
        return results
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('database', help='a database with the addon installed, to copy (setup.sh test makes one)')
    parser.add_argument('--config', default=os.path.join(ROOT, 'var', 'odoo.conf'))
    parser.add_argument('--deliveries', type=int, default=1000000)
    parser.add_argument('--attempts', type=int, default=5000000)
    parser.add_argument('--callbacks', type=int, default=20)
    parser.add_argument('--rounds', type=int, default=5, help='HTTP requests per figure, after one warm-up')
    parser.add_argument('--keep', action='store_true', help='keep the scratch database')
    args = parser.parse_args()
    odoo.tools.config.parse_config(['-c', args.config, '--log-level=warn'])
    scratch = 'awh_scale_bench_%d' % os.getpid()
    began = time.time()
    try:
        try:
            create_scratch(scratch, template=args.database, config=args.config)
        except RuntimeError as error:  # DB is in use: start from setup.sh's base database instead
            print('(%s; installing the addon in a copy of the base database)' % error)
            create_scratch(scratch, config=args.config)
        conn = connect(scratch, args.config)
        try:
            started = time.time()
            callbacks = fill_outbox(conn, args.deliveries, args.attempts, callbacks=args.callbacks)
            filled = time.time() - started
            sizes = table_sizes(conn)
        finally:
            conn.close()
        print('Scratch database %s filled in %.0f s (with VACUUM ANALYZE):' % (scratch, filled))
        for table, rows, heap, indexes in sizes:
            print('  %-26s %10s rows  table %8s  indexes %8s' % (table, '{:,}'.format(rows), heap, indexes))
        sys.stdout.flush()
        registry = odoo.registry(scratch)
        with odoo.api.Environment.manage():
            timings, failing = failing_check(registry, 7)
        print('Failing-callback check over %s attempts, %d callbacks: median %s, max %s (%d to deactivate)' % (
            '{:,}'.format(sizes[1][1]), args.callbacks, ms(statistics.median(timings)), ms(max(timings)), failing))
        figures = [('failing-callback check', statistics.median(timings))]
        for prepared, how in ((True, "the dispatcher's way: prepared, generic plans"),
                              (False, 'plain statements, as from Odoo')):
            timings, claimed = claims_latency(scratch, args.config, 50, prepared)
            print('Claim of 64 (got %d), %s deliveries still to send, %s: p50 %s, p95 %s (50, rolled back)' % (
                claimed, '{:,}'.format(args.deliveries // 100), how, ms(percentile(timings, 0.5)),
                ms(percentile(timings, 0.95))))
            figures.append(('claim p95', percentile(timings, 0.95)))
        sys.stdout.flush()
        print('Web client over HTTP (a real server; median and max of %d requests after a warm-up):' % args.rounds)
        for label, timings in measure_web(args.config, scratch, callbacks[1], args.rounds):
            print('  %-46s %s   max %s' % (label, ms(statistics.median(timings)), ms(max(timings))))
            figures.append((label.strip(), max(timings)))
        sys.stdout.flush()
        with odoo.api.Environment.manage(), registry.cursor() as cr, \
                odoo.tools.mute_logger('odoo.addons.account_webhook.models.webhook_callback'):
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            report = env['webhook.delivery']._housekeeping(max_seconds=3600, commit=True)
        rows = report['deliveries'] + report['attempts']
        print('Housekeeping, a full run: %s deliveries and %s attempts deleted in %.1f s (%s rows/s), %d transactions, '
              'longest %.2f s; stopped: %s' % ('{:,}'.format(report['deliveries']), '{:,}'.format(report['attempts']),
                                               report['seconds'], '{:,.0f}'.format(rows / report['seconds']),
                                               report['transactions'], report['longest'], report['stopped']))
        conn = connect(scratch, args.config)
        try:
            with conn.cursor() as cr:
                cr.execute('SELECT (SELECT count(*) FROM webhook_delivery), '
                           '(SELECT count(*) FROM webhook_delivery_attempt)')
                left = cr.fetchone()
        finally:
            conn.close()
        print('  left: %s deliveries, %s attempts' % tuple('{:,}'.format(n) for n in left))
        slow = [(label, t) for label, t in figures if t >= INTERACTIVE_GOAL]
        print('Goals: interactive figures under %.0f s: %s; no transaction over %.0f s: %s (longest %.2f s)' % (
            INTERACTIVE_GOAL, 'met' if not slow else 'MISSED by %s' % ', '.join(label for label, _t in slow),
            TRANSACTION_GOAL, 'met' if report['longest'] < TRANSACTION_GOAL else 'MISSED', report['longest']))
    finally:
        if not args.keep:
            drop_scratch(scratch, args.config)
        print('(%.0f s in all%s)' % (time.time() - began, '' if args.keep else '; scratch database dropped'))


if __name__ == '__main__':
    main()
