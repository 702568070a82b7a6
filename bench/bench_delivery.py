# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Commit-to-receipt latency through a running Odoo server, against a local sink on 127.0.0.1.

A running Odoo server (with its dispatcher); a contact's email is changed over XML-RPC, one
event at a time; time from the call's return (Odoo has committed) to the sink receiving the
POST. Target: p95 < 1 s. (Throughput is bench_engine.py's.)

Usage: python bench/bench_delivery.py DB [--events E]
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import odoo_compat  # noqa: E402

odoo_compat.install()
import odoo  # noqa: E402

odoo_compat.patch_odoo()

from tests.conftest import OdooServer, Rpc  # noqa: E402


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
    parser.add_argument('--events', type=int, default=50)
    args = parser.parse_args()
    odoo.tools.config.parse_config(['-c', args.config, '-d', args.database, '--log-level=warn'])
    registry = odoo.registry(args.database)
    from odoo.addons.account_webhook.tests.receiver import Receiver  # the addons path is known now
    sink = Receiver()
    try:
        with odoo.api.Environment.manage(), registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            env['ir.config_parameter'].set_param('account_webhook.allowed_targets', '127.0.0.1')
            env['webhook.callback'].search([]).write({'active': False})
            callback_id = env['webhook.callback'].create({
                'name': 'bench latency', 'model': 'res.partner', 'action': 'update', 'field_names': ['email'],
                'url': sink.url}).id
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
