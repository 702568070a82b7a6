# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Receivers that answer what no receiver should, beside a healthy one, through the real engine: in a
thread of this process and in a dedicated ``webhook-dispatch`` process. The healthy receiver gets
every event at once, the engine keeps running, each hostile delivery ends with a recorded attempt
and is not sent again before its schedule says so. Data is committed and removed afterwards."""
import os
import signal
import subprocess
import sys
import time

import pytest

from odoo.addons.account_webhook.tests.receiver import RawReceiver, Receiver

from .conftest import ROOT, _kill_group
from .test_dispatch import RunningEngine, env, make_callback  # noqa: F401 (fixtures)

MIB = 1024 * 1024
# path -> the raw bytes answered (after the request was read); 'drip' answers a byte a second
ANSWERS = {
    '/nul': b'HTTP/1.1 500 Internal\r\nContent-Length: 9\r\n\r\nab\x00cd\x00\xff\xfe!',
    '/retry-after': b'HTTP/1.1 429 Slow down\r\nRetry-After: \xb2\r\nContent-Length: 0\r\n\r\n',  # '²' in latin-1
    '/huge-date': b'HTTP/1.1 503 Busy\r\nRetry-After: Fri, 31 Dec 9999 23:59:59 GMT\r\nContent-Length: 2\r\n\r\nno',
    '/binary': b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % MIB + bytes(range(256)) * (MIB // 256),
    '/garbage': b'\x00\x01 not http at all\r\n\r\n',
    '/drip': b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n' + b'x' * 100,
}


class HostileReceiver(RawReceiver):
    """Answers ``ANSWERS[path]``; ``/drip`` a byte a second."""

    def respond(self, connection, path):
        if path != '/drip':
            connection.sendall(ANSWERS[path])
            return
        for byte in ANSWERS[path]:
            if self.closing:
                return
            connection.sendall(bytes([byte]))
            time.sleep(1)


def hostile_scenario(env, run_engine, events=20):  # noqa: F811
    """Callbacks to each hostile path and one to a healthy receiver; ``run_engine()`` starts an
    engine and returns a function telling whether it still runs. Returns when it has checked."""
    # a first retry after 10 minutes: nothing is sent twice in this test unless a lease ran out
    env.set_params(timeout_connect=1, timeout_total=2, lease_seconds=1, retry_schedule='600,600')
    hostile, healthy = HostileReceiver(), Receiver()
    try:
        callbacks = {path: make_callback(env, healthy, url=hostile.url(path), name='hostile %s' % path)
                     for path in sorted(ANSWERS)}
        good = make_callback(env, healthy, name='healthy')
        env.cr.commit()
        alive = run_engine()
        for i in range(events):
            env['res.partner'].create({'name': 'Hostile test %d' % i})
            env.cr.commit()
        committed = time.time()
        assert len(healthy.wait_for(events, timeout=10)) == events, 'the healthy receiver was held back'
        assert max(request.at for request in healthy.received) - committed < 3
        Delivery, Attempt = env['webhook.delivery'], env['webhook.delivery.attempt']
        hostile_ids = [callback.id for callback in callbacks.values()]

        def recorded():
            env.cr.rollback()  # a fresh snapshot
            return Attempt.search_count([('callback_id', 'in', hostile_ids)])
        deadline = time.time() + 30
        while time.time() < deadline and recorded() < len(hostile.paths):
            time.sleep(0.5)
        assert recorded() == len(hostile.paths), 'a request was not recorded'
        # leases are 1 + 2 + 3 = 6 s: past one, nothing was sent again
        time.sleep(7)
        assert alive(), 'the engine stopped'
        assert recorded() == len(hostile.paths), 'sent again before its schedule'
        for path, callback in callbacks.items():
            deliveries = Delivery.search([('callback_id', '=', callback.id)])
            assert len(deliveries) == events
            attempted = deliveries.filtered('attempt_ids')
            assert attempted, '%s: no attempt recorded' % path
            for delivery in attempted:
                [attempt] = delivery.attempt_ids  # one attempt each: none sent again before its schedule
                assert delivery.state in ('pending', 'failed', 'done'), (path, delivery.state)
                assert '\x00' not in (attempt.response_excerpt or '') + (attempt.error or '')
            # no delivery stayed claimed past its lease, none was sent twice
            assert not deliveries.filtered(lambda d: d.state == 'sending'), path
            assert hostile.paths.count(path) == len(attempted), (path, hostile.paths.count(path))
        nul = Delivery.search([('callback_id', '=', callbacks['/nul'].id), ('attempt_ids', '!=', False)], limit=1)
        assert nul.last_status_code == 500 and 'ab\ufffdcd' in nul.attempt_ids.response_excerpt
        retry = Delivery.search([('callback_id', '=', callbacks['/retry-after'].id),
                                 ('attempt_ids', '!=', False)], limit=1)
        assert retry.state == 'pending' and retry.last_status_code == 429  # on its schedule: '²' is no delay
        binary = Delivery.search([('callback_id', '=', callbacks['/binary'].id),
                                  ('attempt_ids', '!=', False)], limit=1)
        assert binary.state == 'done' and len(binary.attempt_ids.response_excerpt) <= 4096
        drip = Delivery.search([('callback_id', '=', callbacks['/drip'].id), ('attempt_ids', '!=', False)])
        assert drip and all(d.attempt_ids.duration_ms < 4000 for d in drip), 'the drip was not cut at its deadline'
        assert sorted(r.headers['webhook-id'] for r in healthy.received) == sorted(
            Delivery.search([('callback_id', '=', good.id)]).mapped('event_id'))
    finally:
        hostile.close()
        healthy.close()


def listening(env):  # noqa: F811
    env.cr.rollback()  # pg_stat_activity is read once per transaction
    env.cr.execute("""SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                       AND application_name = 'account_webhook dispatcher' AND query LIKE 'LISTEN%%'""")
    return env.cr.fetchone()[0] > 0


@pytest.fixture
def engine_thread(odoo_db):
    started = []
    yield lambda: started.append(RunningEngine(odoo_db)) or started[-1].thread.is_alive
    for running in started:
        running.stop()


def test_hostile_receivers_do_not_stop_the_engine(env, engine_thread):  # noqa: F811
    hostile_scenario(env, engine_thread)


def test_hostile_receivers_do_not_stop_a_dedicated_sender(env, request, odoo_db):  # noqa: F811
    config = request.config.getoption('--odoo-config')
    log_path = os.path.join(ROOT, 'var', 'log', 'test-webhook-dispatch-hostile.log')
    processes = []

    def start():
        processes.append(subprocess.Popen(
            [sys.executable, os.path.join(ROOT, 'scripts', 'odoo'), 'webhook-dispatch', '-c', config, '-d', odoo_db,
             '--logfile=%s' % log_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True))
        deadline = time.time() + 60
        while not listening(env) and time.time() < deadline:  # the events then wait for no start-up
            assert processes[0].poll() is None, 'webhook-dispatch exited'
            time.sleep(0.2)
        return lambda: processes[0].poll() is None
    try:
        hostile_scenario(env, start, events=5)
        processes[0].send_signal(signal.SIGTERM)
        assert processes[0].wait(30) == 0
    finally:
        for process in processes:
            _kill_group(process, 5)
