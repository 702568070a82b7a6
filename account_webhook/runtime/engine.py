# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The delivery engine: one loop that claims and records, a pool of threads that POST."""
import collections
import errno
import fcntl
import logging
import os
import queue
import re
import select
import socket
import threading
import time

import psycopg2
import psycopg2.extensions

import odoo

from .. import params as parameters
from .. import sender
from . import claiming, recording
from .state import read_state

_logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = 'account_webhook_delivery'
POLL_SECONDS = 2          # look for retries that came due, rate limits and breakers that reopened
DISCOVERY_SECONDS = 60    # look for databases that installed or removed the addon
ERROR_PAUSE = 5


class Connection(psycopg2.extensions.connection):
    """The engine's own PostgreSQL connections: run() prepares statements on them."""

    def __init__(self, *args, **kwargs):
        super(Connection, self).__init__(*args, **kwargs)
        self.account_webhook_prepared = {}


class SenderPool(object):
    """Threads that POST jobs and hand each result back; grows up to what is in flight."""

    def __init__(self, on_result):
        self.on_result = on_result
        self._jobs = queue.Queue()
        self._threads = []

    def submit(self, job, connections, settings, in_flight):
        while len(self._threads) < in_flight:
            thread = threading.Thread(target=self._work, name='account_webhook sender %d' % len(self._threads))
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        job.handle = sender.Handle()
        self._jobs.put((job, connections, settings))

    def _work(self):
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, connections, settings = item
            try:
                result = sender.post_job(job, connections, settings, job.handle)
            except Exception as error:  # never lose a job: an unexpected error is a failed attempt
                _logger.exception('account_webhook: sending delivery %s failed unexpectedly', job.id)
                result = sender.Result(error='internal error: %s' % (error,))
            self.on_result(job, result)

    def close(self):
        for _thread in self._threads:
            self._jobs.put(None)
        self._threads = []


class Database(object):
    """One database's side of the engine: its connections, settings and deliveries in flight."""

    def __init__(self, name, listen=True):
        self.name = name
        self.want_listen = listen
        self.listen = None
        self.work = None
        self.in_flight = {}
        self.settings = None
        self.connections = None
        self.unrecorded = []      # results that came back, recorded at the next cycle
        self.wanted = True        # something may be due: claim at the next cycle
        self.next_cycle = 0
        self.retry_at = 0         # after a database error
        self._next_listen = 0
        self._errors_logged_at = {}

    def _connect(self, autocommit):
        _dbname, info = odoo.sql_db.connection_info_for(self.name)
        connection = psycopg2.connect(application_name='account_webhook dispatcher', connection_factory=Connection,
                                      **info)
        if autocommit:
            connection.set_session(autocommit=True)
        else:
            connection.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_READ_COMMITTED)
            with connection, connection.cursor() as cr:
                # Claims and results need not wait for the disk: if PostgreSQL crashes, the last
                # ones are lost and their deliveries are sent again after their lease (at least once).
                cr.execute('SET synchronous_commit TO off')
                cr.execute('SET plan_cache_mode TO force_generic_plan')  # prepared once, planned once
                # never queue behind an upgrade's locks for long, never hold the outbox for long
                cr.execute("SET lock_timeout TO '10s'; SET statement_timeout TO '30s'")
        return connection

    def listen_fd(self):
        """The LISTEN connection's socket, (re)connected when due; None when there is none."""
        if self.listen is None and self.want_listen and time.monotonic() >= self._next_listen:
            try:
                self.listen = self._connect(autocommit=True)
                self.listen.cursor().execute('LISTEN "%s"' % NOTIFY_CHANNEL)
                self.wanted = True  # what was committed while nobody listened
            except psycopg2.Error as error:
                self._drop_listen(error)
        return self.listen.fileno() if self.listen is not None else None

    def notified(self):
        try:
            self.listen.poll()
            del self.listen.notifies[:]
            self.wanted = True
        except psycopg2.Error as error:
            self._drop_listen(error)

    def _drop_listen(self, error):
        self._log_error('listen', 'its LISTEN connection failed (%s); polling every %ss until it is back' % (
            str(error).strip(), POLL_SECONDS))
        if self.listen is not None:
            self.listen.close()
        self.listen = None
        self._next_listen = time.monotonic() + ERROR_PAUSE
        self.wanted = True

    def _log_error(self, kind, message):
        """Log a connection trouble once a minute per kind (``listen``, ``work``), not once a cycle."""
        if time.monotonic() - self._errors_logged_at.get(kind, -60) >= 60:
            self._errors_logged_at[kind] = time.monotonic()
            _logger.warning('account_webhook dispatcher, database %s: %s', self.name, message)

    def due(self, now):
        return now >= self.retry_at and bool(self.unrecorded or self.wanted or now >= self.next_cycle)

    def cycle(self, engine, capacity):
        """One short transaction: record the results that came back, then claim up to ``capacity``
        more. Returns the claimed jobs. On a database error the results wait for the next cycle."""
        now = time.monotonic()
        results, self.unrecorded = self.unrecorded, []
        try:
            if self.work is None or self.work.closed:
                self.work = self._connect(autocommit=False)
            with self.work, self.work.cursor() as cr:
                state = read_state(cr)  # one round trip: always current settings and breakers
                settings = self.settings = state.settings
                recording.record(cr, state, results, engine.sent_by)
                busy = set(job.id for job, _result in results)
                in_flight = [job for job in self.in_flight.values() if job.id not in busy]
                capacity = min(capacity + len(busy), settings.concurrency - len(in_flight))
                jobs = [] if engine.stopping else claiming.claim(cr, state, capacity, in_flight)
        except Exception as error:  # pylint: disable=broad-except
            # a database or network error, or a bug: the results wait for the next cycle, the engine goes on
            self.unrecorded = results + self.unrecorded
            if not isinstance(error, (psycopg2.Error, OSError)):
                _logger.exception('account_webhook dispatcher, database %s: a cycle failed', self.name)
            self._log_error('work', '%s; trying again in %ss' % (str(error).strip(), ERROR_PAUSE))
            self.close_work()
            self.retry_at = now + ERROR_PAUSE
            return []
        for job, _result in results:
            self.in_flight.pop(job.id, None)
        engine.attempted += len(results)
        self.wanted = bool(jobs) and len(jobs) >= capacity  # there may be more
        self.next_cycle = now + POLL_SECONDS
        if self.connections is None or self.connections.allowed_targets != settings.allowed_targets:
            self.connections = sender.Connections(settings.allowed_targets, max_idle=settings.per_endpoint)
        deadline = time.monotonic() + settings.timeout_connect + settings.timeout_total + sender.DEADLINE_GRACE
        for job in jobs:
            job.database, job.deadline = self, deadline
            self.in_flight[job.id] = job
        return jobs

    def close_work(self):
        if self.work is not None:
            try:
                self.work.close()
            except psycopg2.Error as error:
                _logger.debug('account_webhook: closing the work connection of %s failed: %s', self.name, error)
        self.work = None

    def close(self):
        self.close_work()
        if self.listen is not None:
            self.listen.close()
            self.listen = None
        if self.connections is not None:
            self.connections.close()


class Engine(object):
    """Sends the due deliveries of some databases, many at a time (see the package docstring).

    ``databases``: names to serve, or None to serve every database of this server where the
    addon is installed (``-d`` / ``db_name``, else all, filtered by ``dbfilter``).
    """

    def __init__(self, databases=None, listen=True, concurrency=None):
        self.fixed = list(databases) if databases is not None else None
        self.listen = listen
        self.concurrency = concurrency   # None: the database's account_webhook.concurrency
        self.databases = collections.OrderedDict()
        self.sent_by = '%s:%d' % (socket.gethostname(), os.getpid())
        self.stopping = False
        self.attempted = 0
        self._results = collections.deque()
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        self.pool = SenderPool(self._finished)
        self._next_discovery = 0
        if self.fixed is not None:
            for name in self.fixed:
                self.databases[name] = Database(name, listen)

    # -- what the sender threads call ----------------------------------------------------------

    def _finished(self, job, result):
        self._results.append((job, result))
        try:
            os.write(self._wake_w, b'.')
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise

    # -- the loop --------------------------------------------------------------------------------

    def in_flight(self):
        return sum(len(database.in_flight) for database in self.databases.values())

    def step(self, timeout=1.0):
        """Wait up to ``timeout`` for a commit, a result or a due time; then record and claim."""
        now = time.monotonic()
        if self.fixed is None and now >= self._next_discovery:
            self._discover()
            self._next_discovery = now + DISCOVERY_SECONDS
        listening = {}
        for database in self.databases.values():
            fd = database.listen_fd()
            if fd is not None:
                listening[fd] = database
        if self._results or any(d.due(now) for d in self.databases.values()):
            timeout = 0
        else:
            soonest = [max(d.next_cycle, d.retry_at) for d in self.databases.values()] + \
                [job.deadline for d in self.databases.values() for job in d.in_flight.values()]
            timeout = max(0, min([timeout] + [moment - now for moment in soonest]))
        try:
            readable = select.select([self._wake_r] + list(listening), [], [], timeout)[0]
        except InterruptedError:
            readable = []
        for fd in readable:
            if fd == self._wake_r:
                _empty(fd)
            else:
                listening[fd].notified()
        while self._results:
            job, result = self._results.popleft()
            job.database.unrecorded.append((job, result))
        now = time.monotonic()
        for database in list(self.databases.values()):
            if database.due(now):
                for job in database.cycle(self, self._capacity(database)):
                    self.pool.submit(job, database.connections, database.settings, self.in_flight())
        self._cut_overdue()

    def _capacity(self, database):
        limit = self.concurrency or (database.settings.concurrency if database.settings else parameters.PARAMS[
            'concurrency'].default)
        return max(0, int(limit) - self.in_flight())

    def _cut_overdue(self):
        now = time.monotonic()
        for database in self.databases.values():
            for job in database.in_flight.values():
                if job.deadline is not None and now > job.deadline:
                    job.handle.abort()

    def run(self, should_stop=lambda: False):
        """Serve until ``should_stop()``; then finish what is in flight. On an unexpected error the
        engine closes its connections and re-raises (its runner logs why and starts a new one)."""
        try:
            while not should_stop():
                self.step()
        except Exception:
            self.close()
            raise
        self.stop()

    def drain(self, seconds=50):
        """Send what is due now and record it; returns when nothing due is left (cron, tests)."""
        deadline = time.monotonic() + seconds
        for database in self.databases.values():
            database.wanted = True
        while time.monotonic() < deadline:
            self.step(timeout=0.5)
            if not self._results and not any(d.in_flight or d.unrecorded or d.wanted
                                             for d in self.databases.values()):
                break
        self.stop()
        return self.attempted

    def stop(self, seconds=None):
        """Claim nothing more; wait for the requests in flight (they end by their timeouts) and
        record them; then close everything. What is left unrecorded is sent again after its lease."""
        self.stopping = True
        if seconds is None:
            seconds = parameters.PARAMS['timeout_total'].default + 10
        deadline = time.monotonic() + seconds
        while (self._results or any(d.in_flight or d.unrecorded for d in self.databases.values())) \
                and time.monotonic() < deadline:
            self.step(timeout=0.2)
        self.close()

    def close(self):
        self.pool.close()
        for database in self.databases.values():
            database.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- which databases ------------------------------------------------------------------------

    def _discover(self):
        names = set(_served_databases())
        for name in [n for n in self.databases if n not in names and not self.databases[n].in_flight]:
            self.databases.pop(name).close()
        for name in sorted(names - set(self.databases)):
            self.databases[name] = Database(name, self.listen)


def _served_databases():
    """The databases of this server that have account_webhook installed."""
    config = odoo.tools.config
    if config['db_name']:
        names = [name for name in config['db_name'].split(',') if name]
    else:
        try:
            names = odoo.service.db.list_dbs(True)
        except Exception:
            _logger.warning('account_webhook dispatcher: cannot list the databases', exc_info=True)
            return []
        dbfilter = config['dbfilter']
        if dbfilter and '%h' not in dbfilter and '%d' not in dbfilter:
            names = [name for name in names if re.match(dbfilter, name)]
    served = []
    for name in names:
        try:
            _dbname, info = odoo.sql_db.connection_info_for(name)
            with psycopg2.connect(connect_timeout=5, **info) as connection, connection.cursor() as cr:
                cr.execute("SELECT 1 FROM ir_module_module WHERE name = 'account_webhook' "
                           "AND state IN ('installed', 'to upgrade')")
                if cr.fetchone():
                    served.append(name)
            connection.close()
        except psycopg2.Error:
            continue  # not an Odoo database, or not reachable now: looked at again later
    return served


def _empty(fd):
    try:
        while os.read(fd, 4096):
            pass
    except OSError as error:
        if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
            raise
