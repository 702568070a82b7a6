# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Production mode and the dispatcher's process: prefork servers (master, HTTP and cron workers,
the dispatcher child), several servers on one database, a dedicated sender process, cut database
connections, and the processes that must never send (odoo shell, --stop-after-init)."""
import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

from odoo.addons.account_webhook.tests.receiver import Receiver

from .conftest import ROOT, ProductionServer, Rpc, _kill_group
from .test_dispatch import committed_deliveries, env, event_ids, make_callback, receiver  # noqa: F401 (fixtures)

STARTED = re.compile(r' (\d+) INFO .*account_webhook dispatcher started \(process (\d+)\)')


def dispatcher_pids(server, timeout=30):
    """Pids of the dispatcher children the master started, from its log (what an operator reads)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(server.log_path) as log:
            pids = [int(match.group(2)) for match in STARTED.finditer(log.read())]
        if pids:
            return pids
        time.sleep(0.2)
    raise AssertionError('no dispatcher started; see %s' % server.log_path)


def wait_until(condition, timeout, message):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(message)


@pytest.fixture
def prefork(request, odoo_db):
    started = []

    def start(**kwargs):
        started.append(ProductionServer(request.config.getoption('--odoo-config'), odoo_db, **kwargs))
        return started[-1]
    yield start
    for server in started:
        server.stop()


def test_a_prefork_server_delivers_from_a_child_of_its_own(env, receiver, prefork):  # noqa: F811
    server = prefork()
    [dispatcher] = dispatcher_pids(server)
    workers = server.children()
    assert dispatcher in [child.pid for child in workers], 'a child of the master'
    assert dispatcher != server.pid
    rpc = Rpc(server.url, server.database, 'admin', 'admin')
    callback_id = rpc('webhook.callback', 'create', {
        'name': 'prefork', 'model': 'res.partner', 'action': 'update', 'field_names': ['phone'],
        'url': receiver.url})
    env.made.append(callback_id)
    partner_id = rpc('res.partner', 'create', {'name': 'Prefork contact'})
    rpc('res.partner', 'write', [partner_id], {'phone': '+370 600 00001'})
    [request] = receiver.wait_for(1, timeout=5)
    assert request.json['values'] == {'phone': '+370 600 00001'}
    [attempt] = wait_until(lambda: env.cr.rollback() or env['webhook.delivery.attempt'].search(
        [('callback_id', '=', callback_id)]), 5, 'the attempt was not recorded')
    assert attempt.sent_by.endswith(':%d' % dispatcher), 'sent by the dispatcher child, not a worker'

    # SIGKILL the HTTP workers that served the writes: nothing is lost, the master replaces them
    http_workers = [child for child in workers if child.pid != dispatcher and 'gevent' not in child.cmdline()]
    for worker in http_workers:
        os.kill(worker.pid, signal.SIGKILL)
    rpc = wait_until(lambda: _try_rpc(server), 30, 'the master did not respawn HTTP workers')
    rpc('res.partner', 'write', [partner_id], {'phone': '+370 600 00002'})
    assert len(receiver.wait_for(2, timeout=5)) == 2
    assert dispatcher_pids(server) == [dispatcher], 'the dispatcher lived on'


def _try_rpc(server):
    try:
        return Rpc(server.url, server.database, 'admin', 'admin')
    except Exception:
        return None


def test_a_killed_dispatcher_child_is_respawned_and_its_delivery_taken_over(env, receiver, prefork):  # noqa: F811
    env.set_params(lease_seconds=1, timeout_connect=1, timeout_total=2)  # a lease of 6 s
    server = prefork()
    [dispatcher] = dispatcher_pids(server)
    receiver.answer(200, delay=30)  # the first request hangs: the dispatcher is mid-send
    callback, [delivery] = committed_deliveries(env, receiver, 1)
    receiver.wait_for(1, timeout=5)
    os.kill(dispatcher, signal.SIGKILL)
    pids = wait_until(lambda: len(dispatcher_pids(server)) == 2 and dispatcher_pids(server), 30,
                      'the master did not respawn the dispatcher')
    # others are not held up by the lost one; the lost one is sent again after its lease, once
    _callback, others = committed_deliveries(env, receiver, 3, callback)
    received = receiver.wait_for(5, timeout=15)
    ids = event_ids(receiver)
    assert len(received) == 5 and ids.count(delivery.event_id) == 2, ids
    assert sorted(set(ids) - {delivery.event_id}) == sorted(others.mapped('event_id'))
    wait_until(lambda: env.cr.rollback() or delivery.invalidate_cache() or delivery.state == 'done', 5, 'not done')
    assert (delivery.state, delivery.attempt_count) == ('done', 1)
    assert delivery.attempt_ids.sent_by.endswith(':%d' % pids[1])


def test_two_prefork_servers_on_one_database_send_each_event_once(env, prefork):  # noqa: F811
    busy = Receiver(delay=0.005)
    try:
        callback = make_callback(env, busy)
        servers = [prefork(workers=1, max_cron=0), prefork(workers=1, max_cron=0)]
        dispatchers = [dispatcher_pids(server)[0] for server in servers]
        _callback, deliveries = committed_deliveries(env, busy, 1000, callback)
        assert len(busy.wait_for(1000, timeout=60)) == 1000
        time.sleep(0.5)  # nothing more may come
        assert sorted(event_ids(busy)) == sorted(deliveries.mapped('event_id')), 'each exactly once'
        wait_until(lambda: env.cr.rollback() or env['webhook.delivery.attempt'].search_count(
            [('callback_id', '=', callback.id)]) == 1000, 10, 'not all recorded')
        attempts = env['webhook.delivery.attempt'].search([('callback_id', '=', callback.id)])
        senders = {int(sent_by.rsplit(':', 1)[1]) for sent_by in attempts.mapped('sent_by')}
        assert senders == set(dispatchers), 'both servers took part'
    finally:
        busy.close()


def test_delivery_resumes_after_the_dispatchers_connections_are_cut(env, receiver, prefork):  # noqa: F811
    server = prefork(workers=1, max_cron=0)
    dispatcher_pids(server)
    callback = make_callback(env, receiver, action='update', field_names=['phone'])
    partner = env['res.partner'].create({'name': 'Cut connections'})
    env.cr.commit()

    def listening():
        env.cr.rollback()  # pg_stat_activity is a snapshot per transaction
        env.cr.execute("""SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                           AND application_name = 'account_webhook dispatcher' AND query LIKE 'LISTEN%%'""")
        return [row[0] for row in env.cr.fetchall()]
    before = wait_until(listening, 10, 'no dispatcher LISTENs')
    env.cr.execute("""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                       WHERE application_name = 'account_webhook dispatcher'""")  # as a PostgreSQL restart would
    env.cr.commit()
    after = wait_until(lambda: [pid for pid in listening() if pid not in before], 15, 'LISTEN not resumed in 15 s')
    assert after
    partner.write({'phone': '+370 600 00003'})
    env.cr.commit()
    committed = time.time()
    [request] = receiver.wait_for(1, timeout=5)
    assert request.at - committed < 1, 'woken by the notification again, not by polling'
    with open(server.log_path) as log:
        assert 'LISTEN connection failed' in log.read(), 'the dispatcher says why it reconnected'
    assert callback.active


def test_processes_that_do_not_serve_send_nothing(env, receiver, request):  # noqa: F811
    """odoo shell (an administrator's console) and --stop-after-init runs never dispatch."""
    callback, deliveries = committed_deliveries(env, receiver, 3)
    config = request.config.getoption('--odoo-config')
    odoo = [sys.executable, os.path.join(ROOT, 'scripts', 'odoo')]
    shell = subprocess.run(odoo + ['shell', '-c', config, '-d', env.cr.dbname, '--log-level=warn'],
                           input=b"print('partners', env['res.partner'].search_count([]))\n",
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert b'partners' in shell.stdout, shell.stdout[-2000:]
    subprocess.run(odoo + ['-c', config, '-d', env.cr.dbname, '--stop-after-init', '--log-level=warn'],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=True)
    time.sleep(1)
    assert receiver.received == []
    env.cr.rollback()
    deliveries.invalidate_cache()
    assert set(deliveries.mapped('state')) == {'pending'}, 'nothing sent, nothing left sending'


def test_a_dedicated_sender_process_delivers_and_stops_cleanly(env, receiver, request, odoo_db):  # noqa: F811
    config = request.config.getoption('--odoo-config')
    log_path = os.path.join(ROOT, 'var', 'log', 'test-webhook-dispatch.log')
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'scripts', 'odoo'), 'webhook-dispatch',
                                '-c', config, '-d', odoo_db, '--logfile=%s' % log_path],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _callback, deliveries = committed_deliveries(env, receiver, 5)
        assert len(receiver.wait_for(5, timeout=30)) == 5
        assert sorted(event_ids(receiver)) == sorted(deliveries.mapped('event_id'))
        wait_until(lambda: env.cr.rollback() or deliveries.invalidate_cache() or
                   len(deliveries.mapped('attempt_ids')) == 5, 5, 'not recorded')
        assert set(deliveries.mapped('attempt_ids.sent_by')) == {'%s:%d' % (os.uname()[1], process.pid)}
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        with open(log_path) as log:
            assert 'account_webhook dispatcher stopped' in log.read()
    finally:
        _kill_group(process, 5)
    assert not psutil.pid_exists(process.pid) or psutil.Process(process.pid).status() == psutil.STATUS_ZOMBIE
