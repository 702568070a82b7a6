# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The dispatch runtime: sends committed deliveries right after commit, many at a time.

What is it?
    One dispatcher per Odoo server (``engine.Engine``), living in a process that serves:

    * threaded mode (``--workers=0``, ``make run``): a daemon thread of the server process;
    * prefork mode (``--workers=N``): a child process of its own (``DispatcherWorker``) that the
      master spawns next to the HTTP and cron workers and respawns when it dies or is recycled
      (memory limits), in the manner of queue_job's runner. Never in HTTP or cron workers;
    * ``odoo webhook-dispatch -c … [-d DB]`` (``cli/``): a dedicated sender process, e.g. on
      other machines than the web workers.

    It serves every database of its server that has the addon installed (``-d``/``db_name``,
    else all, filtered by ``dbfilter``). Processes that do not serve never start one: ``odoo
    shell``, ``--stop-after-init`` installs and upgrades, tests, the gevent longpolling process.
    A cron sweeps every minute with the same engine, as a safety net.

How does it work?
    Capture writes outbox rows in the user's transaction; a statement trigger NOTIFYs on
    commit. The engine's loop ``LISTEN``s on each database, and on a notification, a result or
    every ``POLL_SECONDS``, runs one short READ COMMITTED transaction that records the results
    that came back and claims what can start now (``claiming.claim``: ``FOR UPDATE SKIP LOCKED``,
    at most ``concurrency`` in flight per dispatcher and ``per_endpoint`` per endpoint,
    round-robin across endpoints, first attempts before retries, per-record order, rate
    limits, circuit breakers). Claimed jobs go to a pool of threads that POST over pooled
    keep-alive ``http.client`` connections (``sender``). A claim's lease outlasts its request
    (connect + total timeout + a margin), and a request still running at its deadline is cut,
    so a live sender never sees its lease expire: a delivery is sent again only when its
    sender died or it got no 2xx. Backlogs are never loaded: a claim takes only free slots.

Caveats
    * Delivery is at least once: a dispatcher killed mid-request leaves its rows ``sending``
      until their lease runs out; another then sends them again (receivers deduplicate on
      webhook-id).
    * In prefork mode the master must import the addon: list it in ``server_wide_modules``
      (``--load=base,web,account_webhook``); with ``-d`` it is imported anyway. Without either,
      the HTTP workers log a warning and only the cron sweep sends (once a minute).
    * ``ACCOUNT_WEBHOOK_NO_DISPATCHER=1`` in the environment keeps a server from starting one.
    * A copy of a database (Odoo's Duplicate, a restore as a copy: a new ``database.uuid``) sends
      nothing (``state.State.held``) until an administrator keeps sending or deactivates its callbacks.
"""
import logging
import os
import socket
import threading
import time

from odoo.service import server as odoo_server

from .engine import Engine

_logger = logging.getLogger(__name__)

SENT_BY_ACTION = '%s:%d (action)' % (socket.gethostname(), os.getpid())
RESTART_PAUSE = 5
_thread = None
_lock = threading.Lock()
_hooked_in_master = False  # the prefork master imported this module: its child sends


def enabled():
    return not os.environ.get('ACCOUNT_WEBHOOK_NO_DISPATCHER')


class DispatcherThread(threading.Thread):
    """Threaded mode: the engine in a daemon thread, restarted (with the reason logged) if it crashes."""

    def __init__(self):
        super(DispatcherThread, self).__init__(name='account_webhook dispatcher', daemon=True)
        self.stopping = False

    def run(self):
        _logger.info('account_webhook dispatcher started (thread of process %s)', os.getpid())
        while not self.stopping:
            try:
                Engine().run(lambda: self.stopping)
            except Exception:
                _logger.exception('account_webhook dispatcher crashed; restarting in %ss', RESTART_PAUSE)
                time.sleep(RESTART_PAUSE)


def start_thread():
    global _thread
    with _lock:
        if enabled() and (_thread is None or not _thread.is_alive()):
            _thread = DispatcherThread()
            _thread.start()


def stop_thread():
    if _thread is not None and _thread.is_alive():
        _thread.stopping = True
        _thread.join(30)


def registry_loaded():
    """A registry with the addon was loaded in this process (``_register_hook``)."""
    server = odoo_server.server
    if type(server) is odoo_server.ThreadedServer:
        # a serving threaded server whose registry loads on the first request: its HTTP thread runs
        # (odoo shell and --stop-after-init create one too, but never start HTTP)
        if any(thread.name == 'odoo.service.httpd' for thread in threading.enumerate()):
            start_thread()
    elif isinstance(server, odoo_server.PreforkServer) and os.getpid() != server.pid and not _hooked_in_master:
        _logger.warning('account_webhook: the prefork master did not load the addon, so no dispatcher runs and '
                        'deliveries wait for the cron sweep; add account_webhook to server_wide_modules '
                        '(--load=base,web,account_webhook)')


class DispatcherWorker(odoo_server.Worker):
    """Prefork mode: the engine in a child process of the master, one step per watchdog beat."""

    def __init__(self, multi):
        super(DispatcherWorker, self).__init__(multi)
        self.watchdog_timeout = 120  # a step lasts about a second; stuck that long, it is killed
        self.engine = None

    def start(self):
        result = super(DispatcherWorker, self).start()
        if self.multi.socket:
            self.multi.socket.close()  # it serves no HTTP
        self.engine = Engine()
        _logger.info('account_webhook dispatcher started (process %s)', self.pid)
        return result

    def sleep(self):
        pass  # the engine's step waits on commits, results and due times itself

    def process_work(self):
        self.engine.step(timeout=1.0)

    def stop(self):
        _logger.info('account_webhook dispatcher (process %s) stopping', self.pid)
        self.engine.stop()


def _process_spawn(self):
    _original['process_spawn'](self)
    dispatchers = self.__dict__.setdefault('webhook_dispatchers', {})
    if not dispatchers and enabled():
        self.worker_spawn(DispatcherWorker, dispatchers)


def _worker_pop(self, pid):
    self.__dict__.get('webhook_dispatchers', {}).pop(pid, None)
    return _original['worker_pop'](self, pid)


def _cron_spawn(self):
    # called by ThreadedServer.run only when it serves (after preloading -d databases, never for
    # odoo shell or --stop-after-init)
    _original['cron_spawn'](self)
    start_thread()


def _threaded_stop(self):
    stop_thread()
    return _original['stop'](self)


_original = {}


def install_server_hooks():
    """Hook the dispatcher into Odoo's servers (once, when the addon's code is imported)."""
    global _hooked_in_master
    if _original:
        return
    _original.update(process_spawn=odoo_server.PreforkServer.process_spawn,
                     worker_pop=odoo_server.PreforkServer.worker_pop,
                     cron_spawn=odoo_server.ThreadedServer.cron_spawn,
                     stop=odoo_server.ThreadedServer.stop)
    odoo_server.PreforkServer.process_spawn = _process_spawn
    odoo_server.PreforkServer.worker_pop = _worker_pop
    odoo_server.ThreadedServer.cron_spawn = _cron_spawn
    odoo_server.ThreadedServer.stop = _threaded_stop
    server = odoo_server.server
    _hooked_in_master = server is None or (isinstance(server, odoo_server.PreforkServer) and
                                           os.getpid() == server.pid)


install_server_hooks()
