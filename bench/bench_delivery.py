"""Delivery speed, measured side by side in one run against a local sink on 127.0.0.1.

1. Throughput: deliveries per second of webhook.delivery._dispatch_due() (claim, sign, POST
   through the SSRF-guarded session, record results, in batches) against the raw ceiling of a
   bare requests.Session loop POSTing the same bodies to the same sink; interleaved rounds,
   medians. Target (issue 5): ratio >= 0.7.
2. Latency: a running Odoo server (with its dispatcher); a contact's email is changed over
   XML-RPC, one event at a time; time from the call's return (Odoo has committed) to the
   sink receiving the POST. Target: p95 < 1 s.

Usage: python bench/bench_delivery.py DB [--deliveries N] [--rounds R] [--events E]
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

from tests.conftest import OdooServer, Rpc  # noqa: E402


def prepare(registry, sink, count):
    """A committed callback to the sink and ``count`` deliveries for it; returns (ids, bodies)."""
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env['ir.config_parameter'].set_param('account_webhook.allowed_targets', '127.0.0.1')
        env['webhook.callback'].with_context(active_test=False).search([('name', '=like', 'bench %')]).unlink()
        env['webhook.callback'].search([]).write({'active': False})
        callback = env['webhook.callback'].create({
            'name': 'bench sink', 'model': 'res.partner', 'action': 'create', 'field_names': ['name', 'email'],
            'url': sink.url})
        for i in range(count):
            env['res.partner'].create({'name': 'Throughput %d' % i, 'email': 'tp%d@example.com' % i})
        deliveries = env['webhook.delivery'].search([('callback_id', '=', callback.id)])
        cr.commit()
        return callback.id, deliveries.ids, [d.payload.encode('utf-8') for d in deliveries]


def requeue(registry, ids):
    with registry.cursor() as cr:
        cr.execute("DELETE FROM webhook_delivery_attempt WHERE delivery_id IN %s", (tuple(ids),))
        cr.execute("UPDATE webhook_delivery SET state = 'pending', attempt_count = 0, done_at = NULL,"
                   " next_attempt_at = now() at time zone 'UTC' WHERE id IN %s", (tuple(ids),))


def raw_rate(sink, bodies):
    session = requests.Session()
    start = time.perf_counter()
    for body in bodies:
        session.post(sink.url, data=body, headers={'Content-Type': 'application/json'}, timeout=(5, 15))
    return len(bodies) / (time.perf_counter() - start)


def our_rate(registry, ids):
    requeue(registry, ids)
    with registry.cursor() as cr:
        model = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})['webhook.delivery']
    start = time.perf_counter()
    sent = model._dispatch_due()
    elapsed = time.perf_counter() - start
    assert sent == len(ids), (sent, len(ids))
    with registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM webhook_delivery WHERE id IN %s AND state = 'done'", (tuple(ids),))
        assert cr.fetchone()[0] == len(ids)
    return len(ids) / elapsed


def latency(config, database, sink, events):
    server = OdooServer(config, database, dispatch=True)
    try:
        rpc = Rpc(server.url, database, 'admin', 'admin')
        partner = rpc('res.partner', 'create', {'name': 'Latency probe'})
        sink.reset()
        times = []
        for i in range(events):
            rpc('res.partner', 'write', [partner], {'email': 'lat%d@example.com' % i})
            committed = time.time()
            received = sink.wait_for(i + 1, timeout=10)
            assert len(received) == i + 1, 'event %d not received within 10 s' % i
            times.append(received[i].at - committed)
        return times
    finally:
        server.stop()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('database')
    parser.add_argument('--config', default=os.path.join(ROOT, 'var', 'odoo.conf'))
    parser.add_argument('--deliveries', type=int, default=500)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--events', type=int, default=50)
    args = parser.parse_args()
    odoo.tools.config.parse_config(['-c', args.config, '-d', args.database, '--log-level=warn'])
    registry = odoo.registry(args.database)
    from odoo.addons.account_webhook.tests.receiver import Receiver  # the addons path is known now
    sink = Receiver()
    try:
        with odoo.api.Environment.manage():
            callback_id, ids, bodies = prepare(registry, sink, args.deliveries)
            raw, ours = [], []
            for _round in range(args.rounds):
                raw.append(raw_rate(sink, bodies))
                ours.append(our_rate(registry, ids))
                sink.reset()
            raw_median, our_median = statistics.median(raw), statistics.median(ours)
            print('Delivery throughput to a local sink: %d deliveries, median of %d interleaved rounds'
                  % (args.deliveries, args.rounds))
            print('  bare requests.Session loop  %8.0f /s' % raw_median)
            print('  account_webhook dispatcher  %8.0f /s   ratio %.2fx (target >= 0.7x)'
                  % (our_median, our_median / raw_median))
            sys.stdout.flush()
            with registry.cursor() as cr:
                env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
                env['webhook.callback'].browse(callback_id).write({'action': 'update', 'field_names': ['email']})
        times = latency(args.config, args.database, sink, args.events)
        print('Commit-to-receipt latency, %d single events through a running server: p50 %.0f ms, p95 %.0f ms, '
              'max %.0f ms (target p95 < 1000 ms)' % (len(times), percentile(times, 0.5) * 1000,
                                                        percentile(times, 0.95) * 1000, max(times) * 1000))
        with odoo.api.Environment.manage(), registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            env['webhook.callback'].browse(callback_id).unlink()
    finally:
        sink.close()


if __name__ == '__main__':
    main()
