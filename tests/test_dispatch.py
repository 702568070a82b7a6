"""Delivery across processes: right after commit through a running server, concurrent workers,
a worker killed mid-send. Data here is committed (as in production) and removed afterwards."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import odoo
from odoo.addons.account_webhook.tests.receiver import Receiver

from .conftest import ROOT, Rpc


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def env(odoo_db):
    """A committed environment in this process, the callbacks and deliveries it made removed after."""
    registry = odoo.registry(odoo_db)
    with odoo.api.Environment.manage(), registry.cursor() as cr:
        environment = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        made = []
        environment.made = made
        Params = environment['ir.config_parameter']
        Params.set_param('account_webhook.allowed_targets', '127.0.0.1')
        others = environment['webhook.callback'].search([])
        others.write({'active': False})  # what other tests left is not dispatched here
        cr.commit()
        yield environment
        cr.rollback()
        environment['webhook.callback'].browse(made).exists().unlink()
        others.exists().write({'active': True})
        Params.set_param('account_webhook.allowed_targets', '')
        Params.set_param('account_webhook.lease_seconds', '')
        cr.commit()


def committed_deliveries(env, receiver, count):
    callback = env['webhook.callback'].create({
        'name': 'workers test', 'model': 'res.partner', 'action': 'create', 'field_names': ['name'],
        'url': receiver.url})
    env.made.append(callback.id)
    partners = [env['res.partner'].create({'name': 'Worker test %d' % i}) for i in range(count)]
    env.cr.commit()
    deliveries = env['webhook.delivery'].search([('callback_id', '=', callback.id)])
    assert len(deliveries) == count == len(partners)
    return callback, deliveries


def test_two_workers_never_send_the_same_delivery(env, receiver, odoo_db):
    callback, deliveries = committed_deliveries(env, receiver, 40)
    counts = []

    def worker():
        with odoo.api.Environment.manage():
            model = odoo.api.Environment(odoo.registry(odoo_db).cursor(), odoo.SUPERUSER_ID, {})['webhook.delivery']
            try:
                counts.append(model.with_context()._dispatch_due(limit=5))
            finally:
                model.env.cr.close()
    threads = [threading.Thread(target=worker) for _i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    env.cr.rollback()
    event_ids = [r.headers['webhook-id'] for r in receiver.received]
    assert sorted(event_ids) == sorted(deliveries.mapped('event_id'))  # each exactly once
    assert sum(counts) == 40 and all(counts), counts  # both took part
    deliveries.invalidate_cache()
    assert set(deliveries.mapped('state')) == {'done'}


WORKER = """
import sys
sys.path.insert(0, %(root)r)
import odoo_compat
odoo_compat.install()
import odoo
odoo_compat.patch_odoo()
odoo.tools.config.parse_config(['-c', %(config)r, '-d', %(db)r, '--log-level=warn'])
with odoo.api.Environment.manage(), odoo.registry(%(db)r).cursor() as cr:
    model = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})['webhook.delivery']
model._dispatch_due()
"""


def test_a_worker_killed_mid_send_is_taken_over_after_its_lease(env, receiver, odoo_db, request):
    env['ir.config_parameter'].set_param('account_webhook.lease_seconds', '2')
    callback, delivery = committed_deliveries(env, receiver, 1)
    receiver.answer(200, delay=60)  # the first receiver answer hangs: the worker is mid-send
    script = WORKER % {'root': ROOT, 'config': request.config.getoption('--odoo-config'), 'db': odoo_db}
    worker = subprocess.Popen([sys.executable, '-c', script])
    try:
        assert receiver.wait_for(1, timeout=60), 'the worker never sent'
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(10)
    env.cr.rollback()  # a fresh snapshot (Odoo cursors are REPEATABLE READ)
    delivery.invalidate_cache()
    assert delivery.state == 'sending'
    assert env['webhook.delivery']._dispatch_due() == 0, 'leased to the dead worker'
    time.sleep(2.5)  # the lease runs out
    assert env['webhook.delivery']._dispatch_due() == 1
    env.cr.rollback()
    delivery.invalidate_cache()
    first, second = receiver.received
    assert first.headers['webhook-id'] == second.headers['webhook-id'] == delivery.event_id
    assert (delivery.state, delivery.attempt_count, len(delivery.attempt_ids)) == ('done', 1, 1)


def test_a_committed_change_reaches_the_receiver_within_a_second(product_server, receiver):
    rpc = Rpc(product_server.url, product_server.database, 'admin', 'admin')
    rpc('ir.config_parameter', 'set_param', 'account_webhook.allowed_targets', '127.0.0.1')
    callback_id = rpc('webhook.callback', 'create', {
        'name': 'fast path', 'model': 'res.partner', 'action': 'update', 'field_names': ['email'],
        'url': receiver.url})
    partner_id = rpc('res.partner', 'create', {'name': 'Fast path'})
    try:
        latencies = []
        for i in range(5):
            rpc('res.partner', 'write', [partner_id], {'email': 'fast%d@example.com' % i})
            committed = time.time()  # the call returns after Odoo committed
            received = receiver.wait_for(i + 1, timeout=5)
            assert len(received) == i + 1, 'no delivery within 5 s'
            latencies.append(received[i].at - committed)
            assert received[i].json['values'] == {'email': 'fast%d@example.com' % i}
        assert max(latencies) < 1.0, latencies
    finally:
        rpc('webhook.callback', 'unlink', [callback_id])
        rpc('ir.config_parameter', 'set_param', 'account_webhook.allowed_targets', '')
