# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Replay of a period: the deliveries of a callback recorded between two dates, in the chosen
states, queued again with their original event ids (what webhook.delivery.action_resend does),
in bounded batches each committed on its own by a cron (as the backfill of webhook.callback)."""
import datetime
import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import formatLang

from .. import batches
from ..runtime import outbox

_logger = logging.getLogger(__name__)

REPLAY_BATCH = 1000  # deliveries per transaction (one UPDATE)
REPLAY_SECONDS = 30  # per run of the replay cron; what is left waits for its next run
STATES = (('replay_failed', 'failed'), ('replay_done', 'done'))  # the wizard's check boxes -> delivery states
# What a replay reads: this callback's period of webhook_delivery_callback_created_index
# (callback_id, create_date, id) INCLUDE (state), index-only, whatever the size of the outbox.
#
# The count tests the state with an expression (given an array of states), so that it does not imply
# the predicate of a partial index (webhook_delivery_failed_index, _done_index: every callback's
# failed or delivered deliveries, read with their rows), which the planner otherwise picks for long
# periods (at a million rows: 100 ms and more, 15 ms so for a week of one callback).
COUNT_QUERY = """
    SELECT count(*) FROM webhook_delivery
     WHERE callback_id = %(callback)s AND create_date >= %(start)s AND create_date <= %(end)s
       AND id <= %(max_id)s AND (state || '') = ANY(%(states)s)"""
# A batch reads the next ``limit`` entries of the period after the cursor (create_date, id), whatever
# their state, in the order of the index: a plan that stops at the limit (no sort, no estimate of
# how many match), so each batch reads and writes at most ``limit`` rows (0.5 ms for 1000 entries at
# a million rows); the rows in the chosen states among them are queued again.
BATCH_QUERY = """
    SELECT id, create_date, state FROM webhook_delivery
     WHERE callback_id = %(callback)s AND create_date >= %(start)s AND create_date <= %(end)s
       AND (create_date, id) > (%(last_date)s, %(last_id)s) AND id <= %(max_id)s
     ORDER BY create_date, id LIMIT %(limit)s"""
NO_MAX_ID = 2 ** 31 - 1


def _default_date_from(_self):
    return fields.Datetime.to_string(datetime.datetime.utcnow() - datetime.timedelta(hours=24))


class WebhookReplay(models.Model):
    """A replay of the deliveries of a period, and its log: who asked, when, what, how far.

    Create it (the wizard's form, or ``create`` over XML-RPC), then ``action_replay`` validates,
    counts and records the request and wakes the cron (``_cron_replay``), which queues the
    deliveries again in batches (``_replay_batch``). The deliveries keep their event id
    (``webhook-id``) and payload, as with *Resend*.
    """
    _name = 'webhook.replay'
    _description = 'Replay of deliveries'
    _order = 'id desc'

    callback_id = fields.Many2one(
        'webhook.callback', required=True, ondelete='cascade', index=True,
        readonly=True, states={'draft': [('readonly', False)]}, domain=[('active', '=', True)])
    date_from = fields.Datetime(
        string='Recorded from', required=True, default=_default_date_from,
        readonly=True, states={'draft': [('readonly', False)]},
        help='Deliveries recorded (created) at or after this time are replayed.')
    date_to = fields.Datetime(
        string='Recorded until', required=True, default=fields.Datetime.now,
        readonly=True, states={'draft': [('readonly', False)]},
        help='Deliveries recorded (created) at or before this time are replayed.')
    replay_failed = fields.Boolean(
        string='Failed', default=True, readonly=True, states={'draft': [('readonly', False)]},
        help='Replay the deliveries whose retries ran out.')
    replay_done = fields.Boolean(
        string='Delivered', default=False, readonly=True, states={'draft': [('readonly', False)]},
        help='Replay the deliveries the receiver already took (it gets the same webhook-id again).')
    state = fields.Selection([('draft', 'New'), ('running', 'In progress'), ('done', 'Done')],
                             string='Status', required=True, default='draft', readonly=True, copy=False)
    # the request, recorded by action_replay; progress written in SQL by the cron's batches
    asked_by = fields.Many2one('res.users', string='Asked by', readonly=True, copy=False)
    asked_at = fields.Datetime(string='Asked at', readonly=True, copy=False)
    total = fields.Integer(string='Deliveries to resend', readonly=True, copy=False,
                           help='How many deliveries matched when the replay was asked.')
    count = fields.Integer(string='Deliveries queued again', readonly=True, copy=False)
    max_id = fields.Integer(string='Last delivery ID when asked', readonly=True, copy=False,
                            help='Deliveries recorded after the replay was asked are not part of it.')
    last_create_date = fields.Datetime(string='Queued up to (recorded)', readonly=True, copy=False)
    last_id = fields.Integer(string='Queued up to (delivery ID)', readonly=True, copy=False)
    done_at = fields.Datetime(string='Done at', readonly=True, copy=False)
    progress = fields.Char(compute='_compute_progress')
    match_count = fields.Integer(string='Matching deliveries', compute='_compute_match_count',
                                 help='Deliveries of the callback recorded in the period, in the chosen states.')

    @api.model
    def default_get(self, fields_list):
        values = super(WebhookReplay, self).default_get(fields_list)
        context = self.env.context
        if ('callback_id' in fields_list and not values.get('callback_id')
                and context.get('active_model') == 'webhook.callback' and context.get('active_id')):
            values['callback_id'] = context['active_id']
        return values

    @api.multi
    def name_get(self):
        return [(replay.id, _('Replay of %s') % replay.callback_id.display_name) for replay in self]

    # -- what a replay covers --------------------------------------------------------------

    def _states(self):
        return tuple(state for name, state in STATES if self[name])

    def _states_label(self):
        labels = dict(self.env['webhook.delivery']._fields['state']._description_selection(self.env))
        return ', '.join(labels[state] for state in self._states())

    def _count_matching(self, max_id=None):
        """How many deliveries the replay covers: an index-only scan of this callback's range of
        webhook_delivery_callback_created_index (see COUNT_QUERY)."""
        states = self._states()
        if not (self.callback_id and self.date_from and self.date_to and states):
            return 0
        self.env.cr.execute(COUNT_QUERY, {
            'callback': self.callback_id.id, 'start': self.date_from, 'end': self.date_to,
            'max_id': NO_MAX_ID if max_id is None else max_id, 'states': list(states)})
        return self.env.cr.fetchone()[0]

    @api.depends('callback_id', 'date_from', 'date_to', 'replay_failed', 'replay_done')
    def _compute_match_count(self):
        for replay in self:
            replay.match_count = replay._count_matching() if replay.state == 'draft' else replay.total

    @api.depends('state', 'total', 'count', 'done_at')
    def _compute_progress(self):
        for replay in self:
            count = formatLang(self.env, replay.count, digits=0)
            if replay.state == 'running':
                replay.progress = _('Replay: %(count)s of %(total)s deliveries queued again') % {
                    'count': count, 'total': formatLang(self.env, max(replay.total, replay.count), digits=0)}
            elif replay.state == 'done':
                replay.progress = _('Replay done: %(count)s deliveries queued again on %(date)s UTC') % {
                    'count': count, 'date': replay.done_at}
            else:
                replay.progress = False

    # -- validation: bad input is refused before anything is written -------------------------

    @api.constrains('callback_id', 'date_from', 'date_to', 'replay_failed', 'replay_done')
    def _check_request(self):
        """A replay is saved only when it can run: the wizard's dialog shows the message and keeps
        the input; over XML-RPC, ``create`` fails and nothing is saved."""
        for replay in self.filtered(lambda r: r.state == 'draft'):
            replay._check_replayable()

    def _check_replayable(self, max_id=None):
        """Raise a ValidationError saying what is wrong; returns the matching count."""
        callback = self.callback_id
        if self.date_to < self.date_from:
            raise ValidationError(_('Replay: the end of the period (%(end)s UTC) is before its start '
                                    '(%(start)s UTC).') % {'end': self.date_to, 'start': self.date_from})
        if not self._states():
            raise ValidationError(_('Replay: choose at least one state to replay (Failed, Delivered).'))
        if not callback.active:
            raise ValidationError(_('Replay: the callback %s is archived; its deliveries would not be sent. '
                                    'Activate it first.') % callback.name)
        running = self.sudo().search([('callback_id', '=', callback.id), ('state', '=', 'running'),
                                      ('id', '!=', self.id or 0)], limit=1)
        if running:
            raise ValidationError(_('Replay: a replay of the callback %(callback)s is already in progress '
                                    '(%(progress)s, asked by %(user)s at %(at)s UTC). Wait until it is done.') % {
                'callback': callback.name, 'progress': running.progress, 'user': running.asked_by.name,
                'at': running.asked_at})
        total = self._count_matching(max_id)
        if not total:
            raise ValidationError(_('No deliveries of %(callback)s recorded between %(start)s and %(end)s UTC '
                                    'in the states %(states)s: nothing to replay.') % {
                'callback': callback.name, 'start': self.date_from, 'end': self.date_to,
                'states': self._states_label()})
        return total

    # -- asking ----------------------------------------------------------------------------------

    @api.multi
    def action_replay(self, *_ignored):
        """Validate, count and record the request (state running), post it on the callback's
        chatter and wake the replay cron; returns at once, with the replay's form (a dialog) that
        says how many deliveries will be resent. The form's button passes its context as an extra
        argument (call_button): ignored. Over XML-RPC: ``create`` then ``action_replay``."""
        self.check_access_rights('write')
        self.check_access_rule('write')
        cr = self.env.cr
        for replay in self:
            if replay.state != 'draft':
                raise UserError(_('Replay: this replay was asked already (%s).') % replay.progress)
        for replay in self:
            cr.execute('SELECT max(id) FROM webhook_delivery')
            max_id = cr.fetchone()[0] or 0
            total = replay._check_replayable(max_id)
            try:
                with cr.savepoint():
                    # webhook_replay_running_index: one replay in progress per callback, whoever asks
                    cr.execute("""UPDATE webhook_replay
                                     SET state = 'running', total = %s, count = 0, max_id = %s,
                                         last_create_date = NULL, last_id = 0, done_at = NULL,
                                         asked_by = %s, asked_at = now() at time zone 'UTC',
                                         write_uid = %s, write_date = now() at time zone 'UTC'
                                   WHERE id = %s AND state = 'draft'""",
                               (total, max_id, self.env.uid, self.env.uid, replay.id), log_exceptions=False)
            except psycopg2.IntegrityError:
                raise UserError(_('Replay: a replay of the callback %s is already in progress. Wait until it '
                                  'is done.') % replay.callback_id.name) from None
            replay.invalidate_cache(ids=replay.ids)
            replay.callback_id._log(
                _('Replay of %(total)s deliveries recorded between %(start)s and %(end)s UTC (%(states)s) asked.') % {
                    'total': formatLang(self.env, total, digits=0), 'start': replay.date_from,
                    'end': replay.date_to, 'states': replay._states_label()})
            _logger.info('Callback %s: replay %s of %s deliveries asked', replay.callback_id.id, replay.id, total)
        batches.wake_cron(self.env, 'account_webhook.ir_cron_webhook_replay')
        if len(self) != 1:
            return True
        return {
            'type': 'ir.actions.act_window', 'res_model': self._name, 'res_id': self.id,
            'view_mode': 'form', 'views': [(False, 'form')], 'target': 'new',
            'name': _('Replay: %s deliveries will be resent') % formatLang(self.env, self.total, digits=0),
        }

    # -- the cron ----------------------------------------------------------------------------------

    @api.model
    def _cron_replay(self, max_seconds=REPLAY_SECONDS, batch_size=REPLAY_BATCH):
        """The replay cron (every minute, woken by action_replay): the batches of the replays in
        progress, each batch its own transaction (committed, except in tests, as the backfill), for
        at most ``max_seconds``; what is left goes on at the next call. Returns how many
        deliveries it queued again."""
        commit = batches.cron_commits()
        return self._run_replays(max_seconds, commit, batch_size)

    @api.model
    def _run_replays(self, max_seconds=REPLAY_SECONDS, commit=False, batch_size=REPLAY_BATCH):
        replays = self.sudo().search([('state', '=', 'running')], order='id')
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only, as the batches below

        def batch(replay):
            result = replay._replay_batch(batch_size, commit)
            return (0, False) if result is None else (result[1], result[0] >= batch_size)
        return batches.run_batches(replays, batch, max_seconds, commit, lambda replay: 'Replay %s' % replay.id).total

    def _replay_batch(self, batch_size=REPLAY_BATCH, commit=False):
        """One batch of this replay: the next ``batch_size`` deliveries of the callback recorded in
        the period with an id up to ``max_id``, after the cursor (``last_create_date``,
        ``last_id``), in (create_date, id) order (see BATCH_QUERY); those in the chosen states are
        queued again with one UPDATE (state pending, due now, no lease: as action_resend; event id
        and payload kept). A short batch is the last one: the replay is done (and said so on the
        callback's chatter).

        Returns ``(rows read, rows queued)`` (a row in another state, or whose state changed
        meanwhile, is read, not queued), None when there is nothing to do (done, or another runner
        holds the replay)."""
        cr = self.env.cr
        batch_size = max(1, int(batch_size))
        try:
            with batches.short_transaction(cr, commit):
                cr.execute("""SELECT callback_id, date_from, date_to, replay_failed, replay_done, max_id,
                                     last_create_date, last_id
                                FROM webhook_replay WHERE id = %s AND state = 'running'
                                 FOR NO KEY UPDATE SKIP LOCKED""", (self.id,), log_exceptions=False)
                row = cr.fetchone()
                if not row:
                    return None
                callback_id, date_from, date_to, replay_failed, replay_done, max_id, last_date, last_id = row
                states = [state for wanted, state in ((replay_failed, 'failed'), (replay_done, 'done')) if wanted]
                cr.execute(BATCH_QUERY, {
                    'callback': callback_id, 'start': date_from, 'end': date_to,
                    'last_date': last_date or datetime.datetime(1, 1, 1), 'last_id': last_id or 0,
                    'max_id': max_id, 'limit': batch_size}, log_exceptions=False)
                rows = cr.fetchall()
                ids = [row[0] for row in rows if row[2] in states]
                read, queued = len(rows), 0
                if ids:
                    # as action_resend: due now, no lease; the event id and the payload are kept. A row
                    # whose state changed since it was read (sent, resent) is left as it is.
                    queued = outbox.requeue(cr, ids, self.env.uid, states)
                cursor_id, cursor_date = rows[-1][:2] if rows else (None, None)
                finished = read < batch_size
                cr.execute("""UPDATE webhook_replay
                                 SET count = count + %(queued)s,
                                     last_create_date = COALESCE(%(date)s, last_create_date),
                                     last_id = COALESCE(%(id)s, last_id),
                                     state = CASE WHEN %(finished)s THEN 'done' ELSE state END,
                                     done_at = CASE WHEN %(finished)s THEN now() at time zone 'UTC' END
                               WHERE id = %(replay)s
                           RETURNING count""", {'queued': queued, 'date': cursor_date, 'id': cursor_id,
                                                'finished': finished, 'replay': self.id}, log_exceptions=False)
                count = cr.fetchone()[0]
                if finished:
                    callback = self.env['webhook.callback'].sudo().browse(callback_id)
                    callback._log(_('Replay done: %s deliveries queued again.') % formatLang(self.env, count, digits=0))
                    _logger.info('Callback %s: replay %s done, %s deliveries queued again', callback_id, self.id,
                                 count)
        finally:
            self.invalidate_cache(ids=self.ids)
            self.env['webhook.delivery'].invalidate_cache()
        return read, queued

    @api.model_cr
    def init(self):
        # one replay in progress per callback, even when two are asked at the same moment
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS webhook_replay_running_index ON webhook_replay (callback_id)
             WHERE state = 'running';
        """)
