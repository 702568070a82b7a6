# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A real HTTP receiver on 127.0.0.1 for the tests: records every POST, answers as scripted."""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn


class _Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many dispatcher connections at once: no SYN dropped by a short backlog


class Received(object):
    def __init__(self, path, headers, body, method='POST'):
        self.path, self.headers, self.body, self.at, self.method = path, headers, body, time.time(), method

    @property
    def json(self):
        return json.loads(self.body.decode('utf-8'))


class Receiver(object):
    """``answer(status, headers=None, body=b'', delay=0)`` queues the next answers; then the
    default answer: 200 at once, or ``Receiver(status, delay=...)``."""

    def __init__(self, status=200, delay=0):
        self.default = (status, {}, b'{"status": "successful"}', delay)
        self.received = []
        self._answers = []
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def setup(self):
                BaseHTTPRequestHandler.setup(self)
                # headers and body leave in two writes: without this, Nagle waits for a delayed ACK
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                with receiver.arrived:
                    receiver.received.append(Received(self.path, dict(self.headers), body, self.command))
                    status, headers, reply, delay = receiver._answers.pop(0) if receiver._answers \
                        else receiver.default
                    receiver.arrived.notify_all()
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header('Content-Length', str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_PUT = do_PATCH = do_DELETE = do_POST

            def log_message(self, *args):
                pass

        self.server = _Server(('127.0.0.1', 0), Handler)
        self.port = self.server.server_address[1]
        self.url = 'http://127.0.0.1:%d/hook' % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, status, headers=None, body=b'', delay=0):
        with self._lock:
            self._answers.append((status, headers, body, delay))

    def reset(self):
        with self._lock:
            del self.received[:]
            del self._answers[:]

    def wait_for(self, count, timeout=10):
        """Wait until ``count`` requests arrived; returns them."""
        deadline = time.time() + timeout
        with self.arrived:
            while len(self.received) < count and time.time() < deadline:
                self.arrived.wait(max(0.01, deadline - time.time()))
            return list(self.received)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class RawReceiver(object):
    """A raw TCP server on 127.0.0.1 for answers no HTTP library would write: reads each connection's
    request (head and body), records its path, then ``respond(connection, path)`` (override it)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.paths = []
        self.closing = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path='/hook'):
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def respond(self, connection, path):
        raise NotImplementedError

    def _serve(self):
        while not self.closing:
            try:
                connection, _address = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection):
        try:
            connection.settimeout(5)
            data = b''
            while b'\r\n\r\n' not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _sep, body = data.partition(b'\r\n\r\n')
            length = int(dict(line.split(b': ', 1) for line in head.split(b'\r\n')[1:]
                              if b': ' in line).get(b'Content-Length', b'0'))
            while len(body) < length:
                body += connection.recv(65536)
            path = head.split(b' ')[1].decode('latin-1')
            self.paths.append(path)
            self.respond(connection, path)
        except OSError:
            return  # the client gave up first
        finally:
            connection.close()

    def close(self):
        self.closing = True
        self.thread.join(5)
        self.sock.close()


class TwoPaths(object):
    """One host and port: ``/slow`` answers after ``slow`` seconds, any other path at once; records
    ``(path, arrival time, webhook-id)`` of each request."""

    def __init__(self, slow):
        self.arrived = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_POST(self):
                self.rfile.read(int(self.headers.get('Content-Length') or 0))
                receiver.arrived.append((self.path, time.time(), self.headers.get('webhook-id')))
                if self.path == '/slow':
                    time.sleep(slow)
                self.send_response(200)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass
        self.server = _Server(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
