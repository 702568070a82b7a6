# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Production mode for real: Odoo's prefork server (HTTP workers, a cron worker, the gevent
longpolling process) behind nginx configured from scripts/nginx.conf.in, as `WORKERS=N make run`
serves it. The worker limits recycle workers without losing requests."""
import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
import xmlrpc.client

import psutil
import pytest

from .conftest import ProductionServer, Rpc, login


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def access_log(server):
    with open(os.path.join(server.nginx_prefix, 'logs', 'access.log')) as log:
        return log.read().splitlines()


def worker_pids(server, kind):
    """Pids of the workers of a kind (WorkerHTTP, WorkerCron) the master started, oldest first."""
    with open(server.log_path) as log:
        return [int(pid) for pid in re.findall(r'Worker %s \((\d+)\) alive' % kind, log.read())]


def wait_for(predicate, timeout, message, sleep=time.sleep):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        sleep(0.2)
    raise AssertionError(message)


def test_nginx_serves_the_workers_and_odoo_sees_the_public_address(production_server):
    status, body = get(production_server.url + '/web/login')
    assert status == 200 and b'oe_login_form' in body
    logins = [line for line in access_log(production_server) if '"GET /web/login ' in line and ' 200 ' in line]
    upstream = 'upstream=127.0.0.1:%d upstream_status=200' % production_server.http_port
    assert logins and all(line.endswith(upstream) for line in logins)
    # nginx passes on the Host the client used: Odoo's redirects name nginx's address, not Odoo's port
    request = urllib.request.Request(production_server.url + '/web')
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(request, timeout=10)
    assert redirect.value.code in (302, 303)
    assert redirect.value.headers['Location'].startswith(production_server.url + '/web/login')
    # the processes of production mode: 2 HTTP workers, 1 cron worker, the gevent process
    children = production_server.children()
    assert len(worker_pids(production_server, 'WorkerHTTP')) == 2
    assert len(worker_pids(production_server, 'WorkerCron')) == 1
    assert [c for c in children if 'gevent' in c.cmdline()]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_web_client_long_polls_through_nginx(production_server, page):
    """The backend web client runs without JavaScript errors, and its /longpolling/poll requests
    reach the gevent process through nginx: a message posted over XML-RPC to a channel the admin
    is in ends the pending poll at once (a poll otherwise waits up to 50 s for news)."""
    polls = []
    page.on('response', lambda response: '/longpolling/poll' in response.url and polls.append(response))
    login(page, production_server.url)
    rpc = Rpc(production_server.url, production_server.database, 'admin', 'admin', timeout=60)
    text = 'prefork poll %s' % uuid.uuid4().hex
    rpc('mail.channel', 'message_post', [rpc.ref('mail.channel_all_employees')], body=text,
        message_type='comment', subtype='mail.mt_comment')
    wait_for(lambda: any(text in response.text() for response in polls), 20,
             'no /longpolling/poll response brought the message; polls: %s' % polls,
             sleep=lambda seconds: page.wait_for_timeout(seconds * 1000))  # Playwright's events need its loop
    page.wait_for_timeout(500)
    assert page.js_errors == []
    assert all(response.status == 200 and 'error' not in response.json() for response in polls)
    served = [line for line in access_log(production_server) if '"POST /longpolling/poll' in line]
    upstream = 'upstream=127.0.0.1:%d upstream_status=200' % production_server.longpolling_port
    assert served and all(line.endswith(upstream) for line in served)


def json_rpc(url, params, timeout=10):
    body = json.dumps({'jsonrpc': '2.0', 'method': 'call', 'params': params}).encode()
    request = urllib.request.Request(url, body, {'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    assert 'error' not in answer, answer
    return answer.get('result')  # Odoo leaves out a None result


def test_longpolling_process_holds_polls_concurrently(production_server):
    """The gevent process is monkey-patched for real: polls wait side by side without blocking it."""
    url = production_server.url + '/longpolling/'
    channels = ['prefork-%s-%d' % (uuid.uuid4().hex, n) for n in range(3)]
    results = {}

    def poll(channel):
        results[channel] = json_rpc(url + 'poll', {'channels': [channel], 'last': 0}, timeout=60)
    threads = [threading.Thread(target=poll, args=(channel,)) for channel in channels]
    for thread in threads:
        thread.start()
    time.sleep(1)
    started = time.time()
    assert json_rpc(url + 'poll', {'channels': channels, 'last': 0, 'options': {'peek': True}}) == {
        'notifications': [], 'channels': channels}
    assert time.time() - started < 3 and not results  # answered while the three polls wait
    for channel in channels:
        json_rpc(url + 'send', {'channel': channel, 'message': 'hello %s' % channel})
    for thread in threads:
        thread.join(10)
    assert {channel: [n['message'] for n in notifications] for channel, notifications in results.items()} == {
        channel: ['hello %s' % channel] for channel in channels}


def test_cron_worker_runs_a_due_job(production_server):
    rpc = Rpc(production_server.url, production_server.database, 'admin', 'admin', timeout=60)
    token = uuid.uuid4().hex
    cron = rpc('ir.cron', 'create', {
        'name': 'prefork test %s' % token, 'model_id': rpc('ir.model', 'search', [('model', '=', 'res.partner')])[0],
        'state': 'code', 'priority': 0, 'numbercall': 1, 'interval_type': 'minutes',
        'nextcall': '2000-01-01 00:00:00',
        'code': "env['ir.config_parameter'].set_param('test_prefork.cron', '%s')" % token})
    # The cron worker looks for due jobs every 60-70 s; a signal with a handler ends that wait early.
    # SIGQUIT's only logs the stacks (SIGUSR1's, logging ORM cache stats, is broken in Odoo 11).
    # Sent again every 5 s, in case the worker was busy with a round of jobs instead of waiting.
    cron_worker = [pid for pid in worker_pids(production_server, 'WorkerCron') if psutil.pid_exists(pid)][-1]
    for _attempt in range(6):
        os.kill(cron_worker, signal.SIGQUIT)
        try:
            wait_for(lambda: rpc('ir.config_parameter', 'get_param', 'test_prefork.cron') == token, 5, 'not yet')
            break
        except AssertionError:
            pass
    else:
        raise AssertionError('the cron worker did not run the due job')
    assert psutil.pid_exists(cron_worker)  # the same worker: it ran the job and lives on
    rpc('ir.cron', 'unlink', [cron])


def many_requests_all_answer_200(server, count):
    for _ in range(count):
        status, _body = get(server.url + '/web/login')
        assert status == 200


@pytest.mark.parametrize('limit, requests, per_worker, logged', [
    ('--limit-request=3', 12, 3, r'Worker \(\d+\) max request \(3\) reached'),
    # Every process is over this virtual memory limit: each HTTP worker serves at most one request
    # and is replaced (the longpolling process too, over and over: hence only a few requests).
    ('--limit-memory-soft=%d' % (64 * 1024 * 1024), 4, 1, r'Worker \(\d+\) virtual memory limit \(\d+\) reached'),
])
def test_limits_recycle_http_workers_without_losing_requests(request, odoo_db, limit, requests, per_worker, logged):
    server = ProductionServer(request.config.getoption('--odoo-config'), odoo_db, max_cron=0,
                              extra_args=[limit], dispatch=False, wait_longpolling=False)
    try:
        many_requests_all_answer_200(server, requests)
        pids = worker_pids(server, 'WorkerHTTP')
        assert len(pids) >= requests // per_worker, pids  # each served its share, then was replaced
        with open(server.log_path) as log:
            text = log.read()
        assert re.search(logged, text)
        assert 'Exception occured' not in text
    finally:
        server.stop()


def test_time_limits_stop_the_request_not_the_service(request, odoo_db):
    server = ProductionServer(request.config.getoption('--odoo-config'), odoo_db, max_cron=0, dispatch=False,
                              extra_args=['--limit-time-cpu=1', '--limit-time-real=6'])
    try:
        rpc = Rpc(server.url, server.database, 'admin', 'admin', timeout=90)
        partner_model = rpc('ir.model', 'search', [('model', '=', 'res.partner')])[0]

        def action(code):
            return rpc('ir.actions.server', 'create', {'name': 'prefork limits', 'model_id': partner_model,
                                                       'state': 'code', 'code': code})
        burn, sleep = action('for i in range(10 ** 9):\n    pass'), action('time.sleep(60)')
        # more than limit_time_cpu seconds of CPU: SIGXCPU ends the request with an error
        with pytest.raises(xmlrpc.client.Fault, match='CPU time limit exceeded'):
            rpc('ir.actions.server', 'run', [burn])
        # more than limit_time_real seconds: the master kills the worker, nginx answers 502
        started = time.time()
        with pytest.raises(xmlrpc.client.ProtocolError) as killed:
            rpc('ir.actions.server', 'run', [sleep])
        assert killed.value.errcode == 502 and time.time() - started < 40  # it would sleep 60 s
        with open(server.log_path) as log:
            assert re.search(r'WorkerHTTP \(\d+\) timeout after 6s', log.read())
        many_requests_all_answer_200(server, 4)
        rpc('ir.actions.server', 'unlink', [burn, sleep])
    finally:
        server.stop()
