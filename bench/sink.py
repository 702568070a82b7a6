# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A fast HTTP receiver for the benchmarks, in a process of its own: several endpoints (ports) on
127.0.0.1, each answering 200 after a delay of its own, HTTP/1.1 keep-alive, on one asyncio loop.

It records, per endpoint, every request's ``webhook-id`` header (or its path) and the time it
arrived (time.time()). ``Sink`` starts it and reads what it recorded:

    with Sink([0.05] * 10) as sink:      # 10 endpoints answering after 50 ms
        sink.urls                         # ['http://127.0.0.1:PORT/hook', ...]
        sink.wait_for(5000, timeout=60)   # True once 5,000 requests arrived
        sink.records()                    # [(endpoint index, webhook-id, arrival time), ...]
        sink.reset()

Run alone: python bench/sink.py [--answer JSON] DELAY [DELAY ...] (prints its ports and a control port).
"""
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request


class _State(object):
    def __init__(self):
        self.records = []


async def _serve_endpoint(state, index, delay, answer, reader, writer):
    reply = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(answer) + answer
    try:
        while True:
            head = await reader.readuntil(b'\r\n\r\n')
            length, event_id = 0, b''
            lines = head.split(b'\r\n')
            for line in lines[1:]:
                name, _sep, value = line.partition(b':')
                name = name.strip().lower()
                if name == b'content-length':
                    length = int(value)
                elif name == b'webhook-id':
                    event_id = value.strip()
            if length:
                await reader.readexactly(length)
            state.records.append((index, (event_id or lines[0]).decode('latin-1'), time.time()))
            if delay:
                await asyncio.sleep(delay)
            writer.write(reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _serve_control(state, reader, writer):
    try:
        request = (await reader.readuntil(b'\r\n\r\n')).split(b' ')[1]
        if request == b'/reset':
            del state.records[:]
            body = b'{}'
        elif request.startswith(b'/records'):
            body = json.dumps(state.records).encode()
        else:
            body = json.dumps(len(state.records)).encode()
        writer.write(b'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
        await writer.drain()
    finally:
        writer.close()


async def _main(delays, answer):
    state = _State()
    ports = []
    for index, delay in enumerate(delays):
        server = await asyncio.start_server(
            lambda r, w, i=index, d=delay: _serve_endpoint(state, i, d, answer, r, w), '127.0.0.1', 0, backlog=1024)
        ports.append(server.sockets[0].getsockname()[1])
    control = await asyncio.start_server(lambda r, w: _serve_control(state, r, w), '127.0.0.1', 0)
    print(json.dumps({'ports': ports, 'control': control.sockets[0].getsockname()[1]}), flush=True)
    while True:
        await asyncio.sleep(3600)


class Sink(object):
    """The sink in a subprocess; every call to it has a timeout; ``close()`` always ends it. Each
    endpoint answers 200 with ``answer`` (a JSON body, bytes)."""

    def __init__(self, delays, answer=b'{}'):
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--answer', answer.decode()]
                                        + [str(d) for d in delays], stdout=subprocess.PIPE)
        ready = json.loads(self.process.stdout.readline().decode())
        self.urls = ['http://127.0.0.1:%d/hook' % port for port in ready['ports']]
        self._control = 'http://127.0.0.1:%d' % ready['control']

    def _get(self, path):
        with urllib.request.urlopen(self._control + path, timeout=30) as response:
            return json.loads(response.read().decode())

    def count(self):
        return self._get('/count')

    def records(self):
        return self._get('/records')

    def reset(self):
        self._get('/reset')

    def wait_for(self, count, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.count() >= count:
                return True
            time.sleep(0.01)
        return False

    def close(self):
        self.process.kill()
        self.process.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == '__main__':
    ARGS = sys.argv[1:]
    ANSWER = b'{}'
    if ARGS[:1] == ['--answer']:
        ANSWER, ARGS = ARGS[1].encode(), ARGS[2:]
    asyncio.run(_main([float(arg) for arg in ARGS] or [0.0], ANSWER))
