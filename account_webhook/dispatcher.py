# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The dispatcher: sends committed deliveries right after commit.

What is it?
    A daemon thread per database in each Odoo server process (started when the registry
    loads, see ``webhook.delivery._register_hook``), in the manner of queue_job's runner.

How does it work?
    The outbox table has a trigger that does ``pg_notify('account_webhook_delivery')``
    when a row becomes pending; PostgreSQL delivers it on commit only. The thread
    ``LISTEN``s on a connection of its own and, when woken (or every ``POLL_SECONDS``
    when retries may have come due), calls ``webhook.delivery._dispatch_due()``, which
    claims due rows with ``FOR UPDATE SKIP LOCKED`` and a lease, commits, sends, and
    records the results in a second short transaction. A cron sweeps every minute too,
    so nothing depends on this thread alone.

Caveats
    Several processes or servers each run one: the claims keep them from sending the
    same delivery twice. A process killed mid-send leaves its rows ``sending`` until the
    lease expires; another then sends them again (at least once: receivers deduplicate on
    webhook-id). Not started by ``--stop-after-init`` runs nor in tests (no server
    running), nor when the environment variable ACCOUNT_WEBHOOK_NO_DISPATCHER is set.
"""
import logging
import os
import select
import threading
import time

import odoo
from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)

POLL_SECONDS = 10   # also look for deliveries whose retry time has come
ERROR_PAUSE = 5
_running = {}
_lock = threading.Lock()


def should_run():
    config = odoo.tools.config
    return (odoo.service.server.server is not None and not config['stop_after_init']
            and not os.environ.get('ACCOUNT_WEBHOOK_NO_DISPATCHER'))


def ensure_started(dbname, channel):
    """Start the dispatcher of ``dbname`` in this process, once."""
    with _lock:
        if dbname in _running and _running[dbname].is_alive():
            return
        thread = Dispatcher(dbname, channel)
        _running[dbname] = thread
        thread.start()


class Dispatcher(threading.Thread):

    def __init__(self, dbname, channel):
        super(Dispatcher, self).__init__(name='account_webhook dispatcher %s' % dbname, daemon=True)
        self.dbname = dbname
        self.channel = channel

    def run(self):
        _logger.info('account_webhook dispatcher started for database %s', self.dbname)
        while True:
            try:
                self._listen_and_dispatch()
            except Exception:
                _logger.exception('account_webhook dispatcher of %s failed; restarting in %ss',
                                  self.dbname, ERROR_PAUSE)
                time.sleep(ERROR_PAUSE)

    def _listen_and_dispatch(self):
        connection = odoo.sql_db.db_connect(self.dbname).cursor()
        try:
            connection.autocommit(True)
            connection.execute('LISTEN "%s"' % self.channel)
            raw = connection._cnx
            while True:
                self._dispatch()
                if select.select([raw], [], [], POLL_SECONDS) != ([], [], []):
                    raw.poll()
                    del raw.notifies[:]
        finally:
            connection.close()

    def _dispatch(self):
        registry = odoo.registry(self.dbname)
        with api.Environment.manage(), registry.cursor() as cr:
            model = api.Environment(cr, SUPERUSER_ID, {})['webhook.delivery']
        model._dispatch_due()
