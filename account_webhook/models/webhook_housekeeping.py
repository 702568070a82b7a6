# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Housekeeping of the outbox (the hourly cron): callbacks that fail for days are deactivated, old
deliveries are deleted with their attempts, in short transactions that give way to anyone else
(``batches.run_batches``), as OCA auditlog's autovacuum does for its logs."""
import logging
import time

import psycopg2
from psycopg2 import errorcodes

from odoo import api, models

from .. import batches
from ..runtime.state import read_settings

_logger = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 30  # per cron call; what is left waits for the next call
BATCH_SECONDS = 0.5  # a cleanup batch (deliveries with their attempts, one transaction) aims at this
FIRST_BATCH, MIN_BATCH, MAX_BATCH = 500, 20, 20000  # deliveries per batch, adapted to BATCH_SECONDS


class WebhookDelivery(models.Model):
    _inherit = 'webhook.delivery'

    @api.model
    def _cron_housekeeping(self, max_seconds=HOUSEKEEPING_SECONDS):
        """The hourly cron: deactivate failing callbacks, then delete old deliveries with their
        attempts, committing after each short step, for at most ``max_seconds`` and only while no
        other cron job waits for the cron worker (what is left waits for the next call). See
        _housekeeping. In tests (which run in one transaction that is rolled back) nothing is
        committed, as Odoo's mail queue does."""
        commit = batches.cron_commits()
        return self._housekeeping(max_seconds, commit=commit, yield_to_crons=commit)

    @api.model
    def _housekeeping(self, max_seconds=HOUSEKEEPING_SECONDS, commit=False, yield_to_crons=False):
        """Deactivate failing callbacks; delete delivered deliveries older than the system parameter
        ``account_webhook.retention_days`` (30) and failed ones whose last attempt is older than
        ``account_webhook.failed_retention_days`` (90), with their attempts, oldest first.

        Each step is one short transaction when ``commit`` (the cron's own cursor, which Odoo lets
        a cron commit: no second connection, no outer transaction left open while it works), else a
        savepoint of the caller's transaction (batches.short_transaction). Batches are sized to take
        about BATCH_SECONDS; a step waits at most batches.LOCK_TIMEOUT for a lock: when someone holds
        one (an upgrade creating indexes, an administrator's long transaction), housekeeping stops and
        goes on at the next call instead of queueing in front of them. With ``yield_to_crons`` (and
        ``commit``) it also stops after a batch when another cron job that was due when it began
        waits for a worker (Odoo 11 runs the due jobs one after the other): they wait at most one
        batch. Returns what it did (a dict).
        """
        cr = self.env.cr
        started = time.monotonic()
        report = {'deactivated': 0, 'deliveries': 0, 'attempts': 0}
        settings = read_settings(cr)
        cr.execute("SELECT now() at time zone 'UTC'")
        began = cr.fetchone()[0]
        own_cron = self.env.ref('account_webhook.ir_cron_webhook_housekeeping', raise_if_not_found=False)
        if commit:
            cr.commit()  # pylint: disable=invalid-commit  # cron only: what its runner read is not kept open
        run = batches.Run()
        step = time.monotonic()
        try:
            with batches.short_transaction(cr, commit):
                report['deactivated'] = len(self.env['webhook.callback']._deactivate_failing())
            run.timed(step)
        except Exception as error:  # pylint: disable=broad-except  # a lock: the deletions still go on
            if getattr(error, 'pgcode', None) not in batches.GIVE_WAY:
                raise
            _logger.info('Callbacks housekeeping: failing callbacks not checked (%s); next time', error.pgcode)
        size = [FIRST_BATCH]

        def delete(old):
            state, column, days = old
            step = time.monotonic()
            with batches.short_transaction(cr, commit):
                deliveries = self._delete_old(state, column, days, size[0], report)
            last = time.monotonic() - step
            more = deliveries >= size[0]  # else none of this state is old enough any more
            size[0] = int(min(MAX_BATCH, max(MIN_BATCH, size[0] * min(2.0, BATCH_SECONDS / max(last, 0.001)))))
            return deliveries, more

        def smaller(error):
            """A statement cancelled at its timeout: the same step again with a smaller batch."""
            if getattr(error, 'pgcode', None) == errorcodes.QUERY_CANCELED and size[0] > MIN_BATCH:
                size[0] = max(MIN_BATCH, size[0] // 4)
                return True
            return False
        batches.run_batches(
            (('done', 'done_at', settings.retention_days), ('failed', 'write_date', settings.failed_retention_days)),
            delete, max_seconds - (time.monotonic() - started), commit, lambda old: 'Callbacks housekeeping',
            run=run, stop_on_give_way=True, retry=smaller,
            should_stop=lambda: commit and yield_to_crons and self._crons_waiting(
                began, own_cron.id if own_cron else 0))
        self.invalidate_cache()
        report.update(transactions=run.batches, longest=run.longest, stopped=run.stopped,
                      seconds=time.monotonic() - started)
        if report['deliveries'] or report['stopped'] != 'finished':
            _logger.info('Callbacks housekeeping: %(deliveries)s deliveries and %(attempts)s attempts deleted in '
                         '%(transactions)s transactions (longest %(longest).2fs) in %(seconds).1fs; stopped: '
                         '%(stopped)s', report)
        return report

    @api.model
    def _crons_waiting(self, since, own_cron_id):
        """Whether another active cron job has been due since ``since`` and no cron worker runs it
        (a running job's row is locked by Odoo's cron runner). A transaction of its own: its row
        locks last one statement."""
        cr = self.env.cr
        try:
            cr.execute('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
            cr.execute("""SELECT id FROM ir_cron WHERE active AND numbercall != 0 AND nextcall <= %s AND id != %s
                           LIMIT 1 FOR UPDATE SKIP LOCKED""", (since, own_cron_id), log_exceptions=False)
            return cr.fetchone() is not None
        except psycopg2.Error:
            return False
        finally:
            cr.rollback()

    @api.model
    def _delete_old(self, state, column, days, limit, report):
        """Delete up to ``limit`` deliveries in ``state`` whose ``column`` is more than ``days`` days
        old, oldest first, with their attempts; rows someone holds are skipped. Returns how many."""
        cr = self.env.cr
        cr.execute("""
            SELECT id FROM webhook_delivery
             WHERE state = %s AND {column} < (now() at time zone 'UTC') - interval '1 day' * %s
             ORDER BY {column} LIMIT %s FOR UPDATE SKIP LOCKED""".format(column=column),
                   (state, days, limit), log_exceptions=False)
        ids = [row[0] for row in cr.fetchall()]
        if ids:
            cr.execute('DELETE FROM webhook_delivery_attempt WHERE delivery_id = ANY(%s)', (ids,),
                       log_exceptions=False)
            report['attempts'] += cr.rowcount
            cr.execute('DELETE FROM webhook_delivery WHERE id = ANY(%s) AND state = %s', (ids, state),
                       log_exceptions=False)
            report['deliveries'] += cr.rowcount
        return len(ids)
