# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The peer: what an Odoo 11 integrator builds instead of account_webhook, measured against the
same receivers (bench/sink.py) as our benchmarks.

The peer is the OCA pattern: an override of res.partner create/write enqueues one OCA queue_job
job per (change, receiver) with ``with_delay(channel=...)``, one channel per receiver set by
hand; the job POSTs the JSON body with ``requests`` (webhook-id = the job's uuid; a failed POST
raises RetryableJobError). queue_job's runner, a thread of a threaded Odoo server
(``--workers=0 --load=web,queue_job``), asks Odoo over HTTP (/queue_job/runjob) to run each job.
Addon: bench/peer/webhook_queue_job_peer.

Measured, in a scratch database copied from the template that scripts/setup.sh caches (created
with ``createdb -T``, queue_job and the peer installed, dropped at the end whatever happens):
  a. throughput: 10 receivers answering after 50 ms, 1,000 changes spread over them in one
     commit; time from the commit until the sink has all 1,000, at channel capacities 8 and 32;
  b. isolation: one receiver hanging (answers after 30 s; requests timeout 15 s) and one healthy,
     500 changes each, one commit per change at a steady pace, alternating; the healthy
     receiver's commit-to-receipt p50/p95, with a channel per receiver and with one shared channel;
  c. write-path cost: a partner write (1 record, 1,000 records) with 3 receivers configured vs
     the override skipped, medians of interleaved samples rolled back, as ratios; also with the
     jobs created under tracking_disable (queue.job is a mail.thread: each job created otherwise
     logs a message, subscribes its creator and notifies them).

Usage: python bench/bench_peer.py [DB] [--json FILE] [--quick]     (DB: the scratch database to
create, default awh_peer_bench; it must not exist). From another script: ``bench_peer.run()``
returns the figures as a dict (it runs this script in a child process: Odoo's configuration is
global to a process).
"""
import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, 'bench')
PEER_ADDONS = os.path.join(HERE, 'peer')
DEFAULT_CONFIG = os.path.join(ROOT, 'var', 'odoo.conf')
LOG_DIR = os.path.join(ROOT, 'var', 'log')
DEFAULT_DB = 'awh_peer_bench'
# scripts/setup.sh's template database: its name and how it is keyed
TEMPLATE_KEY_FILES = ('requirements/odoo.txt', 'requirements/base.txt', 'odoo_compat/__init__.py')
TEMPLATE_KEY_SUFFIX = 'account_invoicing,l10n_generic_coa en_US,lt_LT\n'

NOT_RECEIVED = float('inf')


# ---------------------------------------------------------------------------------------------
# databases and processes (nothing here imports odoo)

def _psql(sql, database='postgres', timeout=60):
    out = subprocess.run(['psql', '-X', '-qAt', '-U', _db_user(), '-d', database, '-c', sql],
                         capture_output=True, text=True, timeout=timeout, check=True)
    return out.stdout.strip()


def _db_user():
    return os.environ.get('ODOO_DB_USER', 'odoo')


def _db_exists(name):
    return _psql("SELECT 1 FROM pg_database WHERE datname = '%s'" % name) == '1'


def find_template():
    """The base database scripts/setup.sh caches (awh_base_<key>): the current key's if present,
    else the only one there is."""
    digest = hashlib.sha256()
    for name in TEMPLATE_KEY_FILES:
        with open(os.path.join(ROOT, name), 'rb') as handle:
            digest.update(handle.read())
    digest.update(TEMPLATE_KEY_SUFFIX.encode())
    expected = 'awh_base_' + digest.hexdigest()[:10]
    found = _psql(r"SELECT datname FROM pg_database WHERE datname LIKE 'awh\_base\_%' ORDER BY oid DESC").split()
    if expected in found:
        return expected
    if found:
        return found[0]
    raise SystemExit('no awh_base_* template database: run scripts/setup.sh test first')


def create_scratch(database, template, data_dir):
    if _db_exists(database):
        raise SystemExit('database %s exists: give a new name (this benchmark drops its database at the end)'
                         % database)
    for attempt in range(10):  # createdb -T fails while another session is connected to the template
        done = subprocess.run(['createdb', '-U', _db_user(), '-T', template, database],
                              capture_output=True, text=True, timeout=120)
        if done.returncode == 0:
            break
        if attempt == 9 or 'is being accessed by other users' not in done.stderr:
            raise RuntimeError('createdb -T %s %s failed: %s' % (template, database, done.stderr.strip()))
        time.sleep(2)
    source = os.path.join(data_dir, 'filestore', template)
    if os.path.isdir(source):
        shutil.copytree(source, os.path.join(data_dir, 'filestore', database))


def drop_scratch(database, data_dir):
    subprocess.run(['dropdb', '-U', _db_user(), '--if-exists', '--force', database],
                   stdout=subprocess.DEVNULL, timeout=120, check=False)
    shutil.rmtree(os.path.join(data_dir, 'filestore', database), ignore_errors=True)


def read_options(config):
    """The [options] of an Odoo config file, as (key, value) lines."""
    import configparser
    parser = configparser.RawConfigParser()
    parser.read(config)
    return dict(parser.items('options'))


def write_config(path, base_options, channels):
    """Our own config file: the project's options, the peer's addons path, queue_job's channels."""
    options = dict(base_options)
    options['addons_path'] = options['addons_path'] + ',' + PEER_ADDONS
    with open(path, 'w') as out:
        out.write('[options]\n')
        for key, value in options.items():
            out.write('%s = %s\n' % (key, value))
        out.write('\n[queue_job]\nchannels = %s\n' % channels)
    return path


def odoo_command(config, database, *args):
    return [sys.executable, os.path.join(ROOT, 'scripts', 'odoo'), '-c', config, '-d', database] + list(args)


def install_peer(config, database):
    log = os.path.join(LOG_DIR, 'bench-peer-install.log')
    done = subprocess.run(odoo_command(config, database, '-i', 'queue_job,webhook_queue_job_peer',
                                       '--without-demo=all', '--stop-after-init', '--log-level=warn',
                                       '--logfile=%s' % log),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    state = _psql("SELECT string_agg(name || '=' || state, ',' ORDER BY name) FROM ir_module_module "
                  "WHERE name IN ('queue_job', 'webhook_queue_job_peer')", database)
    if done.returncode or state != 'queue_job=installed,webhook_queue_job_peer=installed':
        raise RuntimeError('installing queue_job and the peer failed (%s, %s); see %s' % (done.returncode, state, log))


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class PeerServer(object):
    """A threaded Odoo server (--workers=0) with queue_job's runner in it, on a free port, with the
    given channels; ready once /web/login answers and the runner has found the database."""

    def __init__(self, workdir, base_options, database, channels, tag):
        self.port = free_port()
        self.database = database
        self.log_path = os.path.join(LOG_DIR, 'bench-peer-%s-%d.log' % (tag, self.port))
        config = write_config(os.path.join(workdir, 'odoo-%s.conf' % tag), base_options, channels)
        cmd = odoo_command(config, database, '--db-filter=^%s$' % database, '--workers=0', '--max-cron-threads=0',
                           '--load=web,queue_job', '--http-interface=127.0.0.1', '--http-port=%d' % self.port,
                           '--log-level=info', '--logfile=%s' % self.log_path)
        env = dict(os.environ, ACCOUNT_WEBHOOK_NO_DISPATCHER='1')  # account_webhook is not in the database anyway
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                        start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _alive(self):
        if self.process.poll() is not None:
            raise RuntimeError('Odoo exited (%s); see %s' % (self.process.returncode, self.log_path))

    def _log_has(self, text):
        try:
            with open(self.log_path, errors='replace') as log:
                return text in log.read()
        except FileNotFoundError:
            return False

    def _wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        # No request before the preload of -d has loaded the registry: Odoo 11's first request imports
        # every addon (http.Root.load_addons) while the main thread loads the same modules, and the
        # preload then fails with "Model 'account.bank.statement.line' does not exist in registry".
        while not self._log_has('odoo.modules.loading: Modules loaded.'):
            self._alive()
            if self._log_has('Failed to initialize database'):
                raise RuntimeError('Odoo could not load %s; see %s' % (self.database, self.log_path))
            if time.time() > deadline:
                raise RuntimeError('Odoo did not load %s in %ss; see %s' % (self.database, timeout, self.log_path))
            time.sleep(0.2)
        url = 'http://127.0.0.1:%d/web/login' % self.port
        while True:
            self._alive()
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError('Odoo did not answer in %ss; see %s' % (timeout, self.log_path))
            time.sleep(0.3)
        ready = 'queue job runner ready for db %s' % self.database  # the runner starts 5 s after the server
        while True:
            self._alive()
            if self._log_has(ready):
                return
            if time.time() > deadline:
                raise RuntimeError('queue_job runner not ready in %ss; see %s' % (timeout, self.log_path))
            time.sleep(0.2)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# ---------------------------------------------------------------------------------------------
# the measurements (odoo imported by measure())

def _env(cr, context=None):
    import odoo
    return odoo.api.Environment(cr, odoo.SUPERUSER_ID, context or {})


def set_receivers(registry, receivers):
    """Replace the peer's receivers: [(name, url, channel, name prefix)]; and forget queued jobs."""
    with registry.cursor() as cr:
        env = _env(cr)
        env['webhook.peer.receiver'].with_context(active_test=False).search([]).unlink()
        for name, url, channel, prefix in receivers:
            env['webhook.peer.receiver'].create({'name': name, 'url': url, 'channel': channel,
                                                 'name_prefix': prefix})
        cr.execute('DELETE FROM queue_job')
        cr.commit()


def make_partners(registry, names):
    with registry.cursor() as cr:
        env = _env(cr, {'webhook_peer_skip': True})
        ids = [env['res.partner'].create({'name': name}).id for name in names]
        cr.commit()
        return ids


def _jobs_since(cr, last_id):
    cr.execute('SELECT id, uuid FROM queue_job WHERE id > %s ORDER BY id', (last_id,))
    rows = cr.fetchall()
    return (rows[-1][0] if rows else last_id), [uuid for _id, uuid in rows]


def write_cost(registry, partner_ids, rounds, large_rounds, say):
    """Seconds per record of a partner write: the override skipped, 3 receivers (queue_job as
    shipped), 3 receivers with the jobs created under tracking_disable; samples rolled back."""
    set_receivers(registry, [('cost %d' % i, 'http://127.0.0.1:9/never', 'root.c%d' % i, '') for i in range(3)])
    modes = {'plain': {'webhook_peer_skip': True}, '3 receivers': {},
             '3 receivers, tracking_disable': {'webhook_peer_quiet': True}}
    counter = [0]

    def sample(batch, mode):
        counter[0] += 1
        with registry.cursor() as cr:
            env = _env(cr, modes[mode])
            records = env['res.partner'].browse(partner_ids[:batch])
            records.mapped('name')  # the form has read the records before the user saves
            cr.execute('SELECT count(*) FROM queue_job')
            before = cr.fetchone()[0]
            start = time.perf_counter()
            records.write({'email': 'w%d@example.com' % counter[0], 'phone': str(counter[0])})
            elapsed = time.perf_counter() - start
            cr.execute('SELECT count(*) FROM queue_job')
            jobs = cr.fetchone()[0] - before
            cr.rollback()
        expected = 0 if mode == 'plain' else 3 * batch
        assert jobs == expected, '%s x%d: %d jobs, expected %d' % (mode, batch, jobs, expected)
        return elapsed / batch

    figures = {}
    for batch, batch_rounds in ((1, rounds * 5), (len(partner_ids), large_rounds)):
        times = {mode: [] for mode in modes}
        for _round in range(batch_rounds):
            for mode in modes:
                sample(min(batch, 20), mode)  # untimed warm-up
                times[mode].append(sample(batch, mode))
        median = {mode: statistics.median(values) for mode, values in times.items()}
        figures[str(batch)] = {
            'plain_ms': median['plain'] * 1000, 'receivers3_ms': median['3 receivers'] * 1000,
            'receivers3_quiet_ms': median['3 receivers, tracking_disable'] * 1000,
            'ratio': median['3 receivers'] / median['plain'],
            'ratio_quiet': median['3 receivers, tracking_disable'] / median['plain'], 'rounds': batch_rounds}
        say('  write of %4d record(s): plain %.3f ms/record; 3 receivers %.3f ms/record = %.2fx; '
            'with tracking_disable %.3f ms/record = %.2fx  (median of %d)'
            % (batch, median['plain'] * 1000, median['3 receivers'] * 1000, figures[str(batch)]['ratio'],
               median['3 receivers, tracking_disable'] * 1000, figures[str(batch)]['ratio_quiet'], batch_rounds))
    return figures


def throughput(registry, workdir, base_options, database, partner_ids, capacity, timeout, say):
    """1,000 changes (one write, one commit) spread over 10 receivers answering after 50 ms;
    from the commit to the last arrival."""
    from sink import Sink
    count = len(partner_ids)
    sink = Sink([0.05] * 10)
    server = None
    try:
        set_receivers(registry, [('r%d' % i, url, 'root.r%d' % i, 'r%d ' % i) for i, url in enumerate(sink.urls)])
        channels = 'root:%d,' % capacity + ','.join('root.r%d:%d' % (i, capacity) for i in range(10))
        server = PeerServer(workdir, base_options, database, channels, 'throughput-%d' % capacity)
        sink.reset()
        with registry.cursor() as cr:
            env = _env(cr)
            env['res.partner'].browse(partner_ids).write({'email': 'tp%d@example.com' % capacity})
            cr.execute('SELECT count(*) FROM queue_job')
            assert cr.fetchone()[0] == count
            cr.commit()
            committed = time.time()
        complete = sink.wait_for(count, timeout=timeout)
        records = sink.records()
        ids = [r[1] for r in records]
        last = max(r[2] for r in records) if records else committed
        received = len(set(ids))
        rate = received / (last - committed) if received else 0.0
        say('  capacity %2d (channels %s): %d/%d received in %.2f s: %.0f events/s%s%s'
            % (capacity, 'root:%d + root.r0..r9:%d' % (capacity, capacity), received, count, last - committed, rate,
               '' if complete else ' (INCOMPLETE after %ds)' % timeout,
               ', %d duplicates' % (len(ids) - received) if len(ids) > received else ''))
        return {'channels': channels, 'events': count, 'received': received, 'duplicates': len(ids) - received,
                'seconds': last - committed, 'events_per_s': rate, 'complete': bool(complete)}
    finally:
        if server:
            server.stop()
        sink.close()


def isolation(registry, workdir, base_options, database, hang_ids, ok_ids, shared, capacity, rate, wait, say):
    """One hanging and one healthy receiver, a commit per change at ``rate`` per second, alternating;
    the healthy receiver's commit-to-receipt times (not received within ``wait`` s after the last
    commit: infinite)."""
    from sink import Sink
    sink = Sink([30, 0])
    server = None
    try:
        if shared:
            channel = {'hang': 'root.shared', 'ok': 'root.shared'}
            channels = 'root:%d,root.shared:%d' % (2 * capacity, 2 * capacity)
        else:
            channel = {'hang': 'root.hang', 'ok': 'root.ok'}
            channels = 'root:%d,root.hang:%d,root.ok:%d' % (2 * capacity, capacity, capacity)
        set_receivers(registry, [('hang', sink.urls[0], channel['hang'], 'hang '),
                                 ('ok', sink.urls[1], channel['ok'], 'ok ')])
        with registry.cursor() as cr:
            last_id, _uuids = _jobs_since(cr, 0)
        server = PeerServer(workdir, base_options, database, channels, 'isolation-%s' % ('shared' if shared else 'own'))
        sink.reset()
        committed = {}  # webhook-id (job uuid) -> (receiver, commit time)
        start = time.time()
        for i in range(2 * len(ok_ids)):
            receiver, partner_id = ('hang', hang_ids[i // 2]) if i % 2 == 0 else ('ok', ok_ids[i // 2])
            pause = start + i / rate - time.time()
            if pause > 0:
                time.sleep(pause)
            with registry.cursor() as cr:
                _env(cr)['res.partner'].browse(partner_id).write({'email': 'iso%d@example.com' % i})
                last_id, uuids = _jobs_since(cr, last_id)
                cr.commit()
                at = time.time()
            assert len(uuids) == 1, uuids
            committed[uuids[0]] = (receiver, at)
        pace = 2 * len(ok_ids) / (time.time() - start)
        healthy = {uuid for uuid, (receiver, _at) in committed.items() if receiver == 'ok'}
        deadline = time.time() + wait
        while time.time() < deadline:
            arrived = {r[1] for r in sink.records() if r[0] == 1}
            if healthy <= arrived:
                break
            time.sleep(0.2)
        first = {}
        hang_requests = 0
        for index, uuid, at in sink.records():
            if index == 1:
                first[uuid] = min(at, first.get(uuid, at))
            else:
                hang_requests += 1
        latencies = [first[uuid] - committed[uuid][1] if uuid in first else NOT_RECEIVED for uuid in healthy]
        received = sum(1 for value in latencies if value != NOT_RECEIVED)
        p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)

        def show(value):
            return '%.0f ms' % (value * 1000) if value != NOT_RECEIVED else 'not received (> %ds)' % wait
        say('  %-22s (%s): healthy %d/%d received, commit-to-receipt p50 %s, p95 %s; %d requests reached '
            'the hanging receiver; %.1f commits/s'
            % ('one shared channel' if shared else 'a channel per receiver', channels, received, len(healthy),
               show(p50), show(p95), hang_requests, pace))
        return {'channels': channels, 'healthy_changes': len(healthy), 'healthy_received': received,
                'p50_ms': None if p50 == NOT_RECEIVED else p50 * 1000,
                'p95_ms': None if p95 == NOT_RECEIVED else p95 * 1000,
                'hang_requests': hang_requests, 'commits_per_s': pace, 'wait_s': wait}
    finally:
        if server:
            server.stop()
        sink.close()


def measure(database=DEFAULT_DB, config=DEFAULT_CONFIG, changes=1000, capacities=(8, 32), iso_changes=500,
            iso_rate=50.0, iso_capacity=8, iso_wait=20, cost_rounds=3, cost_large_rounds=1, say=print):
    """Create the scratch database, measure, drop it; returns the figures. Runs Odoo in this process:
    call it once per process, before anything else configures Odoo (``run()`` does that for you)."""
    sys.path.insert(0, ROOT)
    sys.path.insert(0, HERE)
    import odoo_compat
    odoo_compat.install()
    import odoo
    odoo_compat.patch_odoo()

    os.makedirs(LOG_DIR, exist_ok=True)
    base_options = read_options(config)
    data_dir = base_options.get('data_dir') or os.path.join(ROOT, 'var', 'data')
    workdir = tempfile.mkdtemp(prefix='bench-peer-')
    figures = {'database': database}
    created = False
    try:
        template = find_template()
        create_scratch(database, template, data_dir)
        created = True
        own_config = write_config(os.path.join(workdir, 'odoo.conf'), base_options, 'root:1')
        started = time.time()
        figures['loadavg_start'] = os.getloadavg()[0]
        install_peer(own_config, database)
        figures['queue_job'] = importlib.metadata.version('odoo11-addon-queue-job')
        say('Peer: OCA queue_job %s, a job per change and receiver (bench/peer/webhook_queue_job_peer); '
            'database %s copied from %s, installed in %.0f s'
            % (figures['queue_job'], database, template, time.time() - started))
        odoo.tools.config.parse_config(['-c', own_config, '-d', database, '--log-level=warn'])
        registry = odoo.registry(database)
        with odoo.api.Environment.manage():
            throughput_ids = make_partners(registry, ['r%d p%d' % (i % 10, i) for i in range(changes)])
            hang_ids = make_partners(registry, ['hang %d' % i for i in range(iso_changes)])
            ok_ids = make_partners(registry, ['ok %d' % i for i in range(iso_changes)])

            say('c. write-path cost of enqueueing (partner write of email+phone; plain = override skipped; '
                '3 receivers = 3 jobs per record), each sample rolled back:')
            figures['write_cost'] = write_cost(registry, throughput_ids, cost_rounds, cost_large_rounds, say)

            say('a. throughput: %d changes in one commit, spread over 10 receivers answering after 50 ms; '
                'commit to the last arrival:' % changes)
            figures['throughput'] = {}
            for capacity in capacities:
                figures['throughput'][str(capacity)] = throughput(registry, workdir, base_options, database,
                                                             throughput_ids, capacity, 120, say)

            say('b. isolation: a receiver hanging 30 s (requests timeout 15 s) and a healthy one, %d changes each, '
                'one commit per change at %g/s alternating:' % (iso_changes, iso_rate))
            figures['isolation'] = {}
            for shared in (False, True):
                figures['isolation']['shared' if shared else 'per_receiver'] = isolation(
                    registry, workdir, base_options, database, hang_ids, ok_ids, shared, iso_capacity, iso_rate,
                    iso_wait, say)
            figures['loadavg_end'] = os.getloadavg()[0]
            say('load average %.1f at the end (other processes on this machine count too)' % figures['loadavg_end'])
    finally:
        if created:
            odoo.sql_db.close_db(database)
            drop_scratch(database, data_dir)
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


def run(database=DEFAULT_DB, timeout=900, verbose=False, **options):
    """The figures of ``measure()`` as a dict, measured in a child process (this script) that is
    ended, whatever happens, after ``timeout`` seconds. ``options``: the command-line options
    (changes, capacities, iso_changes, iso_rate, iso_capacity, iso_wait, cost_rounds,
    cost_large_rounds, config, quick)."""
    workdir = tempfile.mkdtemp(prefix='bench-peer-run-')
    out = os.path.join(workdir, 'figures.json')
    cmd = [sys.executable, '-u', os.path.abspath(__file__), database, '--json', out]
    for key, value in options.items():
        if value is True:
            cmd.append('--' + key.replace('_', '-'))
        elif key == 'capacities':
            cmd += ['--capacities', ','.join(str(c) for c in value)]
        elif value not in (None, False):
            cmd += ['--' + key.replace('_', '-'), str(value)]
    process = subprocess.Popen(cmd, stdout=None if verbose else subprocess.DEVNULL, start_new_session=True)
    try:
        process.wait(timeout)
        if process.returncode:
            raise RuntimeError('bench_peer.py exited %s' % process.returncode)
        with open(out) as handle:
            return json.load(handle)
    finally:
        if process.poll() is None:
            process.terminate()  # the child drops its database and stops its servers and sinks
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('database', nargs='?', default=DEFAULT_DB, help='scratch database to create and drop')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--changes', type=int, default=1000)
    parser.add_argument('--capacities', default='8,32')
    parser.add_argument('--iso-changes', type=int, default=500)
    parser.add_argument('--iso-rate', type=float, default=50.0)
    parser.add_argument('--iso-capacity', type=int, default=8, help='channel capacity per receiver')
    parser.add_argument('--iso-wait', type=int, default=20, help='seconds to wait after the last commit')
    parser.add_argument('--cost-rounds', type=int, default=3, help='rounds of single writes: x5')
    parser.add_argument('--cost-large-rounds', type=int, default=1, help='rounds of the large write')
    parser.add_argument('--quick', action='store_true', help='small sizes, to try the set-up')
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    if args.quick:  # smaller sizes where no option was given
        for name, value in (('changes', 100), ('iso_changes', 50), ('iso_wait', 10), ('cost_rounds', 1)):
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally clauses on terminate
    figures = measure(args.database, args.config, args.changes, [int(c) for c in args.capacities.split(',')],
                      args.iso_changes, args.iso_rate, args.iso_capacity, args.iso_wait, args.cost_rounds,
                      args.cost_large_rounds)
    if args.json:
        with open(args.json, 'w') as out:
            json.dump(figures, out, indent=1, sort_keys=True)


if __name__ == '__main__':
    main()
