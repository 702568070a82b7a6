# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The delivery engine across threads and processes: right after commit through a running server,
concurrent dispatchers, a dispatcher killed mid-send, slow and hanging endpoints. Data here is
committed (as in production) and removed afterwards."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import odoo
from odoo.addons.account_webhook.runtime.engine import Engine
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
        environment.set_params = lambda **params: [
            Params.set_param('account_webhook.' + key, str(value)) for key, value in params.items()]
        Params.set_param('account_webhook.allowed_targets', '127.0.0.1')
        others = environment['webhook.callback'].search([])
        others.write({'active': False})  # what other tests left is not dispatched here
        cr.commit()
        yield environment
        cr.rollback()
        environment['webhook.callback'].browse(made).exists().unlink()
        others.exists().write({'active': True})
        # the settings it set; not what the addon remembers of its database (a copy is told by them)
        cr.execute("DELETE FROM ir_config_parameter WHERE key LIKE 'account\\_webhook.%%' "
                   "AND key NOT IN ('account_webhook.database_uuid', 'account_webhook.database_name')")
        cr.execute("DELETE FROM webhook_endpoint")
        environment['ir.config_parameter'].clear_caches()
        cr.commit()


def make_callback(env, receiver, **vals):
    callback = env['webhook.callback'].create(dict({
        'name': 'workers test', 'model': 'res.partner', 'action': 'create', 'field_names': ['name'],
        'url': receiver.url}, **vals))
    env.made.append(callback.id)
    return callback


def committed_deliveries(env, receiver, count, callbacks=None):
    """``count`` contacts created and committed: one delivery each to every callback (made for
    ``receiver`` if none given)."""
    callbacks = callbacks or make_callback(env, receiver)
    before = env['webhook.delivery'].search([('callback_id', 'in', callbacks.ids)])
    for i in range(count):
        env['res.partner'].create({'name': 'Worker test %d' % i})
    env.cr.commit()
    deliveries = env['webhook.delivery'].search([('callback_id', 'in', callbacks.ids)]) - before
    assert len(deliveries) == count * len(callbacks)
    return callbacks, deliveries


class RunningEngine(object):
    """An engine serving the test database in a thread of this process, as a server's would."""

    def __init__(self, odoo_db):
        self.engine = Engine([odoo_db])
        self.stopping = False
        self.thread = threading.Thread(target=self.engine.run, args=(lambda: self.stopping,), daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def engines(odoo_db):
    started = []
    yield lambda: started.append(RunningEngine(odoo_db)) or started[-1]
    for engine in started:
        engine.stop()


def event_ids(receiver):
    return [request.headers['webhook-id'] for request in receiver.received]


def test_two_workers_never_send_the_same_delivery(env, receiver, odoo_db):
    callback, deliveries = committed_deliveries(env, receiver, 40)
    counts = []

    def worker():
        counts.append(Engine([odoo_db], listen=False, concurrency=5).drain(60))
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
    env.set_params(lease_seconds=1, timeout_connect=1, timeout_total=1)  # a lease of 1 + 1 + 3 s
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
    time.sleep(5.5)  # the lease runs out
    assert env['webhook.delivery']._dispatch_due() == 1
    env.cr.rollback()
    delivery.invalidate_cache()
    first, second = receiver.received
    assert first.headers['webhook-id'] == second.headers['webhook-id'] == delivery.event_id
    assert (delivery.state, delivery.attempt_count, len(delivery.attempt_ids)) == ('done', 1, 1)


def test_a_hanging_endpoint_never_delays_a_healthy_one(env, engines):
    env.set_params(timeout_connect=1, timeout_total=3, per_endpoint=4)
    hanging, healthy = Receiver(delay=10), Receiver()
    try:
        callbacks = make_callback(env, hanging, max_in_flight=2) | make_callback(env, healthy)
        engines()
        committed_deliveries(env, healthy, 20, callbacks)
        committed = time.time()
        assert len(healthy.wait_for(20, timeout=10)) == 20
        arrived = max(request.at for request in healthy.received) - committed
        env.cr.rollback()
        hanging_attempts = env['webhook.delivery.attempt'].search_count([('callback_id', '=', callbacks[0].id)])
        # every healthy delivery arrived while the hanging endpoint's first requests were still timing out
        assert arrived < 3 and hanging_attempts == 0, (arrived, hanging_attempts)
        assert len(healthy.received) == 20 and len(hanging.received) == 2, 'the callback lowered per_endpoint'
        assert sorted(event_ids(healthy)) == sorted(env['webhook.delivery'].search(
            [('callback_id', '=', callbacks[1].id)]).mapped('event_id'))
    finally:
        hanging.close()
        healthy.close()


def test_slow_receiver_and_two_dispatchers_send_each_event_once(env, engines):
    # requests take 3 s, far longer than the lease an operator set: the lease covers the request anyway
    env.set_params(timeout_connect=1, timeout_total=5, lease_seconds=1, per_endpoint=8)
    slow = Receiver(delay=3)
    try:
        callbacks, deliveries = committed_deliveries(env, slow, 40, make_callback(env, slow))
        engines(), engines()
        time.sleep(1.5)
        assert len(slow.received) == 16, 'each dispatcher: per_endpoint requests in flight to one endpoint'
        deadline = time.time() + 30
        while time.time() < deadline and env['webhook.delivery'].search_count(
                [('id', 'in', deliveries.ids), ('state', '!=', 'done')]):
            time.sleep(0.5)
            env.cr.rollback()
        assert sorted(event_ids(slow)) == sorted(deliveries.mapped('event_id'))  # each exactly once
        attempts = env['webhook.delivery.attempt'].search([('delivery_id', 'in', deliveries.ids)])
        assert len(attempts) == 40 and len(set(attempts.mapped('sent_by'))) == 1  # one process, two engines
    finally:
        slow.close()


def test_per_record_order_holds_with_many_requests_in_flight(env, engines, receiver):
    env.set_params(per_endpoint=16)
    receiver.default = (200, {}, b'', 0.05)
    callback = make_callback(env, receiver, action='update', field_names=['email'])
    partners = [env['res.partner'].create({'name': 'Order %d' % i}) for i in range(4)]
    env.cr.commit()
    for step in range(5):
        for partner in partners:
            partner.write({'email': 'step%d@example.com' % step})
            env.cr.commit()
    engines()
    assert len(receiver.wait_for(20, timeout=20)) == 20
    for partner in partners:
        emails = [r.json['values']['email'] for r in receiver.received if r.json['id'] == partner.id]
        assert emails == ['step%d@example.com' % step for step in range(5)], emails
    in_flight_together = max(
        sum(1 for other in receiver.received if abs(other.at - r.at) < 0.02) for r in receiver.received)
    assert in_flight_together > 1, 'records were sent concurrently'
    assert callback.active


def test_rate_limit_holds_with_many_requests_in_flight(env, engines, receiver, odoo_db):
    callback = make_callback(env, receiver, rate_limit=3)
    committed_deliveries(env, receiver, 6, callback)
    engines()
    time.sleep(2)
    assert len(receiver.received) == 3, 'three calls per minute'


# last: the module-scoped server below is one more dispatcher for the tests after it
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


def test_a_crashed_dispatcher_thread_is_restarted_with_the_reason_logged(monkeypatch):
    import logging
    from odoo.addons.account_webhook import runtime
    runs, logged = [], []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage() + str(record.exc_info and record.exc_info[1]))
    logger = logging.getLogger(runtime.__name__)
    level = logger.level
    logger.setLevel(logging.INFO)  # tests run Odoo's loggers at CRITICAL
    logger.addHandler(handler)

    class FailingOnce(object):
        def run(self, should_stop):
            runs.append(1)
            if len(runs) == 1:
                raise RuntimeError('database on fire')
            while not should_stop():
                time.sleep(0.05)
    monkeypatch.setattr(runtime, 'Engine', FailingOnce)
    monkeypatch.setattr(runtime, 'RESTART_PAUSE', 0.1)
    thread = runtime.DispatcherThread()
    thread.start()
    try:
        deadline = time.time() + 5
        while len(runs) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(runs) == 2, 'restarted'
        assert any('crashed; restarting' in line and 'database on fire' in line for line in logged), logged
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        thread.stopping = True
        thread.join(5)
    assert not thread.is_alive()


def test_a_server_without_d_serves_the_databases_its_dbfilter_lets_through(odoo_db, monkeypatch):
    from odoo.addons.account_webhook.runtime import engine
    config = odoo.tools.config
    monkeypatch.setitem(config.options, 'db_name', False)
    monkeypatch.setitem(config.options, 'dbfilter', '^%s$' % odoo_db)
    assert engine._served_databases() == [odoo_db]
    monkeypatch.setitem(config.options, 'dbfilter', '^postgres$')  # no Odoo there
    assert engine._served_databases() == []
    monkeypatch.setitem(config.options, 'db_name', '%s,postgres' % odoo_db)
    assert engine._served_databases() == [odoo_db], '-d lists the databases; those without the addon are skipped'
