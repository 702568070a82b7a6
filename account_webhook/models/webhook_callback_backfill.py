# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# pylint: disable=consider-merging-classes-inherited  # webhook.callback is split by concern on purpose
"""Backfill: *Send existing records* queues one ``create`` event per record of the callback's model
(its company, its filter), asked on the callback and queued by the backfill cron in short batches."""
import logging
import threading
import time

import odoo

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import formatLang

from .. import batches, payload

_logger = logging.getLogger(__name__)

BACKFILL_BATCH = 500  # records per backfill transaction
START_WAIT = 30  # seconds action_backfill's thread waits for its request to commit
BACKFILL_SECONDS = 30  # per run of the backfill cron; what is left waits for its next run


class WebhookCallback(models.Model):
    _inherit = 'webhook.callback'

    # backfill (action_backfill asks, the cron _cron_backfill does it): written in SQL, not by
    # write(), which would count a revision and clear the capture's caches of every worker
    backfill_state = fields.Selection([('running', 'In progress'), ('done', 'Done')],
                                      string='Backfill', readonly=True, copy=False)
    backfill_total = fields.Integer(string='Backfill: records to send', readonly=True, copy=False)
    backfill_count = fields.Integer(string='Backfill: records queued', readonly=True, copy=False)
    backfill_last_id = fields.Integer(string='Backfill: queued up to record ID', readonly=True, copy=False)
    backfill_max_id = fields.Integer(string='Backfill: last record ID when asked', readonly=True, copy=False)
    backfill_batch_size = fields.Integer(string='Backfill: records per batch', readonly=True, copy=False)
    backfill_done_at = fields.Datetime(string='Backfill done at', readonly=True, copy=False)
    backfill_progress = fields.Char(string='Backfill progress', compute='_compute_backfill_progress')

    @api.depends('backfill_state', 'backfill_total', 'backfill_count', 'backfill_done_at')
    def _compute_backfill_progress(self):
        for callback in self:
            count = formatLang(self.env, callback.backfill_count, digits=0)
            if callback.backfill_state == 'running':
                callback.backfill_progress = _('Backfill: %(count)s of %(total)s records queued') % {
                    'count': count,
                    'total': formatLang(self.env, max(callback.backfill_total, callback.backfill_count), digits=0)}
            elif callback.backfill_state == 'done':
                callback.backfill_progress = _('Backfill done: %(count)s records queued on %(date)s UTC') % {
                    'count': count, 'date': callback.backfill_done_at}
            else:
                callback.backfill_progress = False

    @api.multi
    def action_backfill(self, batch_size=BACKFILL_BATCH):
        """Ask for one ``create`` event (with ``"backfill": true``) per record of the model that
        exists now, that the callback sees (its company) and that matches its filter, archived
        ones included; returns at once (True).

        Records the request on the callback (state, total, where to continue from) and wakes the
        backfill cron (_cron_backfill), which writes the events in batches of ``batch_size``
        records in the order of their ids. Refused for an archived callback and while a backfill
        of the callback is in progress (asking again once it is done sends everything again).
        """
        self.check_access_rights('write')
        self.check_access_rule('write')
        if isinstance(batch_size, dict):  # the form's button (call_button) passes its context here
            batch_size = BACKFILL_BATCH
        batch_size = int(batch_size)
        if batch_size < 1:
            raise UserError(_('Backfill: the batch size must be at least 1.'))
        for callback in self:
            if not callback.active:
                raise UserError(_('Backfill: the callback %s is archived.') % callback.name)
            if callback.model not in self.env.registry:
                raise self._unsupported_model(callback.model)
            if callback.backfill_state == 'running':
                raise UserError(_('Backfill: the callback %(callback)s is already sending its existing records '
                                  '(%(progress)s). Wait until it is done.') % {
                                      'callback': callback.name, 'progress': callback.backfill_progress})
        cr = self.env.cr
        for callback in self:
            records = callback._backfill_records()
            cr.execute('SELECT max(id) FROM "%s"' % records._table)
            max_id = cr.fetchone()[0] or 0
            total = records.search_count(callback._backfill_domain(records) + [('id', '<=', max_id)])
            cr.execute("""UPDATE webhook_callback
                             SET backfill_state = 'running', backfill_total = %s, backfill_count = 0,
                                 backfill_last_id = 0, backfill_max_id = %s, backfill_batch_size = %s,
                                 backfill_done_at = NULL
                           WHERE id = %s""", (total, max_id, batch_size, callback.id))
            _logger.info('Callback %s: backfill of %s records asked', callback.id, total)
        self.invalidate_cache(ids=self.ids)
        batches.wake_cron(self.env, 'account_webhook.ir_cron_webhook_backfill')
        if batches.cron_commits():  # not in tests, which run in one transaction that is rolled back
            self._start_after_commit(self.ids)
        return True

    def _start_after_commit(self, ids):
        """The backfill starts within seconds, not at the cron's next poll (Odoo 11's cron threads
        look for due jobs once a minute): a thread waits until this transaction has committed the
        request, then runs the batches as the cron does (each its own transaction, SKIP LOCKED: the
        cron and this never queue the same records). Gives up after START_WAIT seconds (the request
        was rolled back, or is still not committed): the cron does it then."""
        dbname = self.env.cr.dbname

        def start():
            deadline = time.monotonic() + START_WAIT
            try:
                while time.monotonic() < deadline:
                    with api.Environment.manage(), odoo.registry(dbname).cursor() as cr:
                        cr.execute("""SELECT count(*) FROM webhook_callback
                                       WHERE id IN %s AND backfill_state = 'running'""", (tuple(ids),))
                        if cr.fetchone()[0]:
                            api.Environment(cr, SUPERUSER_ID, {})['webhook.callback']._run_backfills(commit=True)
                            return
                    time.sleep(0.2)
            except Exception:  # pylint: disable=broad-except  # the cron does it at its next call
                _logger.exception('Callbacks %s: the backfill did not start at once; the cron does it', ids)
        thread = threading.Thread(target=start, name='account_webhook backfill %s' % ids[:5])
        thread.daemon = True
        thread.start()

    def _backfill_records(self):
        return self.env[self.model].sudo().with_context(active_test=False)

    def _backfill_domain(self, records):
        return self._company_domain(records) + self._filter()

    @api.model
    def _cron_backfill(self, max_seconds=BACKFILL_SECONDS):
        """The backfill cron (every minute): the batches of the backfills in progress, each batch
        its own transaction (committed, except in tests, as webhook.delivery._cron_housekeeping),
        for at most ``max_seconds``; what is left goes on at the next call. Returns how many
        records it queued."""
        commit = batches.cron_commits()
        return self._run_backfills(max_seconds, commit)

    @api.model
    def _run_backfills(self, max_seconds=BACKFILL_SECONDS, commit=False):
        callbacks = self.sudo().search([('backfill_state', '=', 'running')], order='id')
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only: each batch its own transaction

        def batch(callback):
            if callback.model not in self.env.registry:
                return 0, False  # its model's module was uninstalled: nothing to read
            count = callback._backfill_batch(commit)
            return (0, False) if count is None else (count, True)
        return batches.run_batches(callbacks, batch, max_seconds, commit,
                                   lambda callback: 'Callback %s: backfill' % callback.id).total

    def _backfill_batch(self, commit):
        """One batch of this callback's backfill, in its own short transaction (batches): the next
        ``backfill_batch_size`` records after ``backfill_last_id`` (up to ``backfill_max_id``)
        queued, progress written; the backfill is done when none is left. Returns how many were
        queued, None when there is nothing to do (done, or another runner holds the callback). Only
        one batch of records in memory."""
        records = self._backfill_records()
        try:
            with batches.short_transaction(self.env.cr, commit):
                return self._backfill_next(records)
        finally:
            self.invalidate_cache(ids=self.ids)
            records.invalidate_cache()  # only one batch of records in memory

    def _backfill_next(self, records):
        cr = self.env.cr
        cr.execute("""SELECT backfill_last_id, backfill_max_id, backfill_batch_size FROM webhook_callback
                       WHERE id = %s AND active AND backfill_state = 'running'
                         FOR NO KEY UPDATE SKIP LOCKED""", (self.id,))
        row = cr.fetchone()
        if not row:
            return None
        last_id, max_id, batch_size = row
        self.invalidate_cache(ids=self.ids)
        callback_id, model_name = self.id, self.model
        names = sorted(self.field_ids.mapped('name'))
        domain = [('id', '>', last_id), ('id', '<=', max_id)] + self._backfill_domain(records)
        batch_size = batch_size or BACKFILL_BATCH
        ids = records._search(domain, order='id', limit=batch_size)
        if not ids:
            cr.execute("""UPDATE webhook_callback SET backfill_state = 'done',
                                 backfill_done_at = now() at time zone 'UTC' WHERE id = %s""", (self.id,))
            _logger.info('Callback %s: backfill done', self.id)
            return None
        timestamp = payload.utc_timestamp()
        values = records.browse(ids)._webhook_values(names)
        rows = []
        for record_id in ids:
            event_id = payload.new_event_id()
            body = payload.OrderedDict((name, values[record_id][name]) for name in names)
            rows.append((callback_id, event_id, model_name, record_id, 'create', payload.dumps(
                model_name, 'create', record_id, body, event_id, timestamp, backfill=True)))
        self.env['webhook.delivery']._enqueue(rows)
        # a short batch is the last one: done at once, without one more transaction
        cr.execute("""UPDATE webhook_callback SET backfill_count = backfill_count + %s, backfill_last_id = %s,
                             backfill_state = CASE WHEN %s THEN 'done' ELSE backfill_state END,
                             backfill_done_at = CASE WHEN %s THEN now() at time zone 'UTC' END
                       WHERE id = %s""", (len(rows), ids[-1], len(ids) < batch_size, len(ids) < batch_size, self.id))
        return len(ids)
