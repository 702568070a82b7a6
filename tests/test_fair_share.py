"""Fair share inside an endpoint: a callback whose receiver is slow cannot take every slot of a host
that another callback also posts to (another path of the same host and port). Real HTTP server on
127.0.0.1, the real engine in a thread, committed data removed afterwards."""
import doctest
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.addons.account_webhook.runtime import claims

from .test_dispatch import RunningEngine, env, make_callback  # noqa: F401 (fixtures)

SLOW_SECONDS = 1.5


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # no SYN dropped by a short backlog


class TwoPaths(object):
    """``/slow`` answers after SLOW_SECONDS, ``/fast`` at once; records when each request arrived."""

    def __init__(self):
        self.arrived = []  # (path, time, body)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                server.arrived.append((self.path, time.time(), body))
                if self.path == '/slow':
                    time.sleep(SLOW_SECONDS)
                self.send_response(200)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass
        self.httpd = _Server(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def fast(self):
        return [at for path, at, _body in self.arrived if path == '/fast']

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_share_rule():
    result = doctest.testmod(claims)
    assert result.attempted >= 5 and result.failed == 0


def same_host_latencies(env, slow_events=30, fast_events=20):  # noqa: F811
    """Seconds from commit to receipt of each of ``fast_events`` deliveries of a callback posting to
    ``/fast`` while another callback's ``slow_events`` deliveries to ``/slow`` of the same host and
    port take SLOW_SECONDS each."""
    env.set_params(timeout_connect=1, timeout_total=5, per_endpoint=16)
    receiver = TwoPaths()
    engine = None
    try:
        make_callback(env, receiver, url=receiver.url + '/slow', name='slow one',
                      filter_domain="[('name', '=like', 'Slow %')]")
        make_callback(env, receiver, url=receiver.url + '/fast', name='fast one',
                      filter_domain="[('name', '=like', 'Fast %')]")
        env.cr.commit()
        engine = RunningEngine(env.cr.dbname)
        for i in range(slow_events):
            env['res.partner'].create({'name': 'Slow %d' % i})
        env.cr.commit()
        time.sleep(0.5)  # the slow receiver holds every request it may get
        latencies = []
        for i in range(fast_events):
            env['res.partner'].create({'name': 'Fast %d' % i})
            env.cr.commit()
            committed = time.time()
            deadline = committed + 2 * SLOW_SECONDS
            while len(receiver.fast()) <= i and time.time() < deadline:
                time.sleep(0.002)
            latencies.append((receiver.fast()[i] if len(receiver.fast()) > i else time.time()) - committed)
            time.sleep(0.05)
        slow_in_flight = sum(1 for path, _at, _body in receiver.arrived if path == '/slow')
        return latencies, slow_in_flight
    finally:
        if engine is not None:
            engine.stop()
        receiver.close()


def p95(values):
    return statistics.quantiles(values, n=20, method='inclusive')[-1]


def test_a_slow_callback_leaves_room_for_another_on_the_same_host(env):  # noqa: F811
    latencies, slow_in_flight = same_host_latencies(env)
    assert slow_in_flight >= 15, 'the slow callback used the slots it may'
    assert p95(latencies) < 0.1, latencies
