# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The delivery engine, measured side by side in one run (receivers: bench/sink.py, another process).

1. Throughput, 10 endpoints answering after 50 ms, 5,000 events at concurrency C: our dispatcher
   (a `webhook-dispatch` process, end to end from the commit of the outbox rows until the last
   POST arrived) vs bare clients doing the same POSTs of the same bodies at the same concurrency,
   without database or signing: threads over requests.Session, threads over http.client
   keep-alive, asyncio + aiohttp. Ratios to the fastest, and to the limit C / 50 ms.
2. The same at 0 ms.
3. Isolation: one endpoint hanging past the timeout and one healthy, 500 events each committed
   one per transaction at a steady pace, default settings: the healthy endpoint's
   commit-to-receipt p50 / p95.
4. Several servers: 20,000 events by one vs two dispatcher processes; events/s, the ratio,
   duplicates.
5. The peer: the same throughput and isolation workloads through the OCA queue_job pattern
   (bench_peer.py, a job per change, a channel per receiver), as ratios to ours.
6. Same-host fairness: two callbacks posting to two paths of one host and port, one answering
   after 1.5 s (30 events at once), the other at once (events committed one by one beside them):
   the fast callback's commit-to-receipt p50 / p95 (goal p95 < 100 ms).

Usage: python bench/bench_engine.py DB [--concurrency C] [--events N] [--scenarios 1,2,3,4,5,6]
"""
import argparse
import asyncio
import collections
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'bench'))
import odoo_compat  # noqa: E402

odoo_compat.install()
import odoo  # noqa: E402

odoo_compat.patch_odoo()
import requests  # noqa: E402
from sink import Sink  # noqa: E402

HEADERS = {'Content-Type': 'application/json'}


# -- bare clients: the same POSTs, no database, no signing -------------------------------------------

def _threads(concurrency, jobs, post_all):
    chunks = [jobs[i::concurrency] for i in range(concurrency)]
    threads = [threading.Thread(target=post_all, args=(chunk,)) for chunk in chunks]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return len(jobs) / (time.perf_counter() - start)


def bare_requests(concurrency, jobs):
    def post_all(chunk):
        session = requests.Session()
        for url, body in chunk:
            session.post(url, data=body, headers=HEADERS, timeout=(5, 15)).close()
    return _threads(concurrency, jobs, post_all)


def bare_http_client(concurrency, jobs):
    def post_all(chunk):
        connections = {}
        for url, body in chunk:
            parts = urlsplit(url)
            connection = connections.get(parts.port)
            if connection is None:
                connection = connections[parts.port] = http.client.HTTPConnection(parts.hostname, parts.port,
                                                                                  timeout=15)
            connection.request('POST', parts.path, body, HEADERS)
            connection.getresponse().read()
    return _threads(concurrency, jobs, post_all)


def bare_aiohttp(concurrency, jobs):
    import aiohttp

    async def main():
        timeout = aiohttp.ClientTimeout(total=15, connect=5)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                         timeout=timeout) as session:
            pending = collections.deque(jobs)

            async def worker():
                while pending:
                    url, body = pending.popleft()
                    async with session.post(url, data=body, headers=HEADERS) as response:
                        await response.read()
            start = time.perf_counter()
            await asyncio.gather(*[worker() for _i in range(concurrency)])
            return len(jobs) / (time.perf_counter() - start)
    return asyncio.run(main())


BARE = [('threads + requests.Session', bare_requests), ('threads + http.client keep-alive', bare_http_client),
        ('asyncio + aiohttp', bare_aiohttp)]


# -- ours ------------------------------------------------------------------------------------------------

class Bench(object):
    def __init__(self, database, config):
        self.database, self.config = database, config
        self.registry = odoo.registry(database)
        self.dispatchers = []

    def env(self):
        return odoo.api.Environment(self.registry.cursor(), odoo.SUPERUSER_ID, {})

    def setup(self, urls, **params):
        """One callback per URL (others off), the given system parameters, an empty outbox."""
        env = self.env()
        try:
            env.cr.execute("DELETE FROM webhook_delivery")
            env.cr.execute("DELETE FROM webhook_endpoint")
            # the settings it set; not what the addon remembers of its database (a copy is told by them)
            env.cr.execute("DELETE FROM ir_config_parameter WHERE key LIKE 'account\\_webhook.%%' "
                           "AND key NOT IN ('account_webhook.database_uuid', 'account_webhook.database_name')")
            env['ir.config_parameter'].set_param('account_webhook.allowed_targets', '127.0.0.1')
            for key, value in params.items():
                env['ir.config_parameter'].set_param('account_webhook.' + key, str(value))
            env['webhook.callback'].with_context(active_test=False).search([('name', '=like', 'bench %')]).unlink()
            env['webhook.callback'].search([]).write({'active': False})
            self.callbacks = [env['webhook.callback'].create({
                'name': 'bench %d' % i, 'model': 'res.partner', 'action': 'create', 'field_names': ['name'],
                'url': url}).id for i, url in enumerate(urls)]
            env.cr.commit()
        finally:
            env.cr.close()

    def enqueue(self, count, endpoint_of=None, first=0):
        """``count`` outbox rows (through the outbox API capture uses), committed at once; returns the
        commit time and {event id: endpoint index}."""
        endpoint_of = endpoint_of or (lambda i: i % len(self.callbacks))
        env = self.env()
        try:
            rows, events = [], {}
            for i in range(count):
                event_id = str(uuid.uuid4())
                index = endpoint_of(first + i)
                events[event_id] = index
                rows.append((self.callbacks[index], event_id, 'res.partner', 100000 + first + i, 'create',
                             _body(first + i, event_id)))
            env['webhook.delivery']._enqueue(rows)
            env.cr.commit()
            return time.time(), events
        finally:
            env.cr.close()

    def start_dispatchers(self, count):
        for _i in range(count):
            log = os.path.join(ROOT, 'var', 'log', 'bench-dispatch-%d.log' % len(self.dispatchers))
            self.dispatchers.append(subprocess.Popen([
                sys.executable, os.path.join(ROOT, 'scripts', 'odoo'), 'webhook-dispatch', '-c', self.config,
                '-d', self.database, '--log-level=warn', '--logfile=%s' % log]))
        deadline = time.time() + 60
        while self._listening() < count:
            assert time.time() < deadline, 'the dispatchers did not start'
            time.sleep(0.2)

    def _listening(self):
        env = self.env()
        try:
            env.cr.execute("""SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                               AND application_name = 'account_webhook dispatcher' AND query LIKE 'LISTEN%'""")
            return env.cr.fetchone()[0]
        finally:
            env.cr.close()

    def stop_dispatchers(self):
        for process in self.dispatchers:
            process.terminate()
        for process in self.dispatchers:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.dispatchers = []

    def done_count(self):
        env = self.env()
        try:
            env.cr.execute("SELECT count(*) FROM webhook_delivery WHERE state = 'done'")
            return env.cr.fetchone()[0]
        finally:
            env.cr.close()

    def run_ours(self, sink, count, dispatchers=1, endpoint_of=None):
        """Events/s from the commit until the last POST arrived; duplicates; all recorded done."""
        sink.reset()
        self.start_dispatchers(dispatchers)
        try:
            committed, events = self.enqueue(count, endpoint_of)
            assert sink.wait_for(count, timeout=600), 'not all events arrived'
            records = sink.records()
            rate = count / (max(at for _i, _id, at in records) - committed)
            deadline = time.time() + 60
            while self.done_count() < count and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)
            records = sink.records()
            duplicates = len(records) - len(set(event_id for _i, event_id, _at in records))
            assert set(event_id for _i, event_id, _at in records) == set(events)
            return rate, duplicates, self.done_count()
        finally:
            self.stop_dispatchers()


def _body(i, event_id):
    return ('{"object": "res.partner", "operation": "create", "id": %d, "values": {"name": "Bench contact %d", '
            '"email": "bench%d@example.com"}, "event_id": "%s", "timestamp": "2026-11-27T00:00:00Z"}'
            % (100000 + i, i, i, event_id))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def throughput(bench, delay, concurrency, events, rounds):
    with Sink([delay] * 10) as sink:
        bench.setup(sink.urls, concurrency=concurrency)
        jobs = [(sink.urls[i % 10], _body(i, 'bare').encode()) for i in range(events)]
        figures = collections.defaultdict(list)
        for _round in range(rounds):
            for name, client in BARE:
                sink.reset()
                figures[name].append(client(concurrency, jobs))
            figures['ours'].append(bench.run_ours(sink, events)[0])
        medians = {name: statistics.median(values) for name, values in figures.items()}
    fastest = max((medians[name], name) for name, _client in BARE)
    print('Throughput, 10 endpoints answering after %d ms, %d events, concurrency %d, median of %d rounds:'
          % (delay * 1000, events, concurrency, rounds))
    for name, _client in BARE:
        print('  bare %-34s %7.0f /s' % (name, medians[name]))
    line = '  account_webhook dispatcher (end to end)  %7.0f /s   %.2fx the fastest bare client (%s)' % (
        medians['ours'], medians['ours'] / fastest[0], fastest[1])
    if delay:
        limit = concurrency / delay
        line += ', %.2fx the limit C / %d ms = %.0f /s' % (medians['ours'] / limit, delay * 1000, limit)
    print(line)
    sys.stdout.flush()
    return medians


def isolation(bench, events, pace):
    """Default settings; one endpoint hangs (60 s, past the 15 s timeout), one answers at once."""
    with Sink([60, 0]) as sink:
        bench.setup(sink.urls)
        bench.start_dispatchers(1)
        try:
            commits = {}
            interval = 1.0 / pace
            start = time.time()
            for i in range(events * 2):
                committed, created = bench.enqueue(1, endpoint_of=lambda j: j % 2, first=i)  # one record each
                commits.update((event_id, (index, committed)) for event_id, index in created.items())
                time.sleep(max(0, start + (i + 1) * interval - time.time()))
            assert sink.wait_for(events, timeout=60)
            time.sleep(0.5)
            latencies = [at - commits[event_id][1] for index, event_id, at in sink.records()
                         if index == 1 and event_id in commits]
            hanging = sum(1 for index, _id, _at in sink.records() if index == 0)
        finally:
            bench.stop_dispatchers()
    assert len(latencies) == events, len(latencies)
    print('Isolation, default settings: one endpoint hanging past the timeout, one healthy, %d events each '
          'committed one by one (%d/s):' % (events, pace))
    print('  healthy endpoint commit-to-receipt p50 %.1f ms, p95 %.1f ms, max %.1f ms (goal p95 < 100 ms); '
          'requests that reached the hanging one: %d' % (percentile(latencies, 0.5) * 1000,
                                                          percentile(latencies, 0.95) * 1000,
                                                          max(latencies) * 1000, hanging))
    sys.stdout.flush()
    return latencies


def several_dispatchers(bench, events):
    with Sink([0] * 10) as sink:
        bench.setup(sink.urls)
        one = bench.run_ours(sink, events, dispatchers=1)
        bench.setup(sink.urls)
        two = bench.run_ours(sink, events, dispatchers=2)
    print('Several servers: %d events, 10 endpoints answering at once' % events)
    print('  one dispatcher process   %7.0f /s, duplicates %d, done %d' % one)
    print('  two dispatcher processes %7.0f /s, duplicates %d, done %d   ratio %.2fx (2 cores shared with '
          'PostgreSQL and the receivers)' % (two + (two[0] / one[0],)))
    sys.stdout.flush()
    return one, two


def peer(ours_rate, ours_latencies):
    import bench_peer
    print('The peer, measured now (its own lines first):')
    sys.stdout.flush()
    figures = bench_peer.run(verbose=True)
    best = max(figure['events_per_s'] for figure in figures['throughput'].values())
    isolated = figures['isolation']['per_receiver']['p95_ms']
    print('Ours against the peer (OCA queue_job %s, a job per change, a channel per receiver):' % figures['queue_job'])
    if ours_rate:
        print('  throughput, receivers answering after 50 ms: ours %.0f /s, the peer at its best capacity %.0f /s: '
              '%.1fx (goal >= 5x)' % (ours_rate, best, ours_rate / best))
    if ours_latencies:
        shared = figures['isolation']['shared']
        print('  isolation, healthy receiver p95: ours %.1f ms with no configuration; the peer %s with a channel per '
              'receiver set by hand, and %d of %d received with one shared channel'
              % (percentile(ours_latencies, 0.95) * 1000, '%.1f ms' % isolated if isolated else 'n/a',
                 shared['healthy_received'], shared['healthy_changes']))
    cost = figures['write_cost']
    print('  the peer\'s write path with 3 receivers: %.1fx a plain single write, %.0fx in a 1,000-record write '
          '(ours: bench_capture.py above)' % (cost['1']['ratio'], cost[max(cost, key=int)]['ratio']))
    sys.stdout.flush()


def arrived(receiver, events):
    """``{event id: arrival time}`` of those of ``events`` the receiver got."""
    return {event_id: at for _path, at, event_id in receiver.arrived if event_id in events}


def same_host(bench, slow_events=30, events=50, pace=20):
    """Default settings; a callback's receiver answers after 1.5 s, another's on the same host at once."""
    from odoo.addons.account_webhook.tests.receiver import TwoPaths  # importable once Odoo is set up
    receiver = TwoPaths(1.5)
    try:
        bench.setup([receiver.url + '/slow', receiver.url + '/fast'])
        bench.start_dispatchers(1)
        try:
            bench.enqueue(slow_events, endpoint_of=lambda j: 0)
            time.sleep(0.3)
            commits = {}
            for i in range(events):
                committed, created = bench.enqueue(1, endpoint_of=lambda j: 1, first=slow_events + i)
                commits.update((event_id, committed) for event_id in created)
                time.sleep(1.0 / pace)
            deadline = time.time() + 30
            while len(arrived(receiver, commits)) < events and time.time() < deadline:
                time.sleep(0.05)
        finally:
            bench.stop_dispatchers()
    finally:
        receiver.close()
    latencies = [at - commits[event_id] for event_id, at in arrived(receiver, commits).items()]
    assert len(latencies) == events, len(latencies)
    print('Same-host fairness, default settings: a callback whose receiver answers after 1.5 s (%d events at '
          'once) and another on the same host and port, %d events committed one by one (%d/s):'
          % (slow_events, events, pace))
    print('  the other callback commit-to-receipt p50 %.1f ms, p95 %.1f ms (goal p95 < 100 ms)' % (
        percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000))
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('database')
    parser.add_argument('--config', default=os.path.join(ROOT, 'var', 'odoo.conf'))
    parser.add_argument('--concurrency', type=int, default=64)
    parser.add_argument('--events', type=int, default=5000)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--scenarios', default='1,2,3,6,4,5')
    args = parser.parse_args()
    odoo.tools.config.parse_config(['-c', args.config, '-d', args.database, '--log-level=warn'])
    scenarios = set(args.scenarios.split(','))
    bench = Bench(args.database, args.config)
    ours_rate = ours_latencies = None
    with odoo.api.Environment.manage():
        try:
            if '1' in scenarios:
                ours_rate = throughput(bench, 0.05, args.concurrency, args.events, args.rounds)['ours']
            if '2' in scenarios:
                throughput(bench, 0.0, args.concurrency, args.events, args.rounds)
            if '3' in scenarios:
                ours_latencies = isolation(bench, 500, 50)
            if '6' in scenarios:
                same_host(bench)
            if '4' in scenarios:
                several_dispatchers(bench, 20000)
            if '5' in scenarios:
                peer(ours_rate, ours_latencies)
        finally:
            bench.stop_dispatchers()
            bench.setup([])


if __name__ == '__main__':
    main()
