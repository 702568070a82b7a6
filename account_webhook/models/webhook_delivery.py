# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import logging
import random
import threading
import time
from contextlib import contextmanager

from odoo import SUPERUSER_ID, _, api, fields, models

from .. import dispatcher, sender, signing

_logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = 'account_webhook_delivery'
DEFAULT_SCHEDULE = '5,300,1800,7200,18000,36000,36000'  # seconds after attempts 1, 2, ...
JITTER = 0.2
LEASE_SECONDS = 120        # a claimed delivery is taken over after this long without a result
MAX_RETRY_AFTER = 86400
RATE_WINDOW = 60
NOW_UTC = "(statement_timestamp() at time zone 'UTC')"  # not now(): a long transaction's start
_sessions = threading.local()  # one pooled HTTP session per dispatching thread


def _now():
    return datetime.datetime.utcnow().replace(microsecond=0)


def post_jobs(session, timeouts, jobs):
    """POST each job, signed, outside any transaction; returns ``[(delivery id, Result)]``."""
    connect, total = timeouts
    results = []
    for delivery_id, url, key, event_id, body in jobs:
        headers = signing.headers(key, event_id, int(time.time()), body)
        results.append((delivery_id, sender.post(session, url, body, headers, connect, total)))
    return results


class WebhookDelivery(models.Model):
    """The outbox: one row per (event, callback), written in the transaction of the change.

    A rollback drops the row with the change; nothing is sent from inside a transaction.
    """
    _name = 'webhook.delivery'
    _description = 'Callback delivery'
    _order = 'id desc'

    callback_id = fields.Many2one('webhook.callback', string='Callback', required=True, index=True,
                                  ondelete='cascade', readonly=True)
    company_id = fields.Many2one(related='callback_id.company_id', string='Company', readonly=True)
    event_id = fields.Char(string='Event ID', required=True, readonly=True, copy=False,
                           help='Unique per event, the same on every retry and resend (webhook-id header).')
    res_model = fields.Char(string='Model', required=True, readonly=True)
    res_id = fields.Integer(string='Record ID', readonly=True)
    operation = fields.Selection(
        [('create', 'Create'), ('update', 'Update'), ('delete', 'Delete'), ('ping', 'Test event')],
        string='Operation', required=True, readonly=True)
    payload = fields.Text(string='Payload', required=True, readonly=True,
                          help='The exact JSON body that is POSTed.')
    state = fields.Selection(
        [('pending', 'Pending'), ('sending', 'Sending'), ('done', 'Delivered'), ('failed', 'Failed')],
        string='State', required=True, default='pending', readonly=True)
    attempt_count = fields.Integer(string='Attempts', readonly=True)
    next_attempt_at = fields.Datetime(string='Next attempt', readonly=True, default=fields.Datetime.now)
    lease_until = fields.Datetime(string='Claimed until', readonly=True, copy=False,
                                  help='A dispatcher is sending it; past this time another may take it over.')
    last_status_code = fields.Integer(string='Last status code', readonly=True)
    last_error = fields.Text(string='Last error', readonly=True)
    done_at = fields.Datetime(string='Delivered at', readonly=True)
    attempt_ids = fields.One2many('webhook.delivery.attempt', 'delivery_id', string='Attempts log',
                                  readonly=True)

    _sql_constraints = [
        ('event_callback_unique', 'unique(event_id)', 'A delivery already exists for this event.'),
    ]

    @api.multi
    def name_get(self):
        operations = dict(self._fields['operation']._description_selection(self.env))
        return [(d.id, '%s %s #%s' % (operations.get(d.operation, d.operation), d.res_model, d.res_id))
                for d in self]

    # -- configuration (system parameters) ---------------------------------------------------

    @api.model
    def _param(self, key, default):
        return self.env['ir.config_parameter'].sudo().get_param('account_webhook.' + key, default)

    @api.model
    def _retry_schedule(self):
        raw = self._param('retry_schedule', DEFAULT_SCHEDULE)
        try:
            return [float(item) for item in raw.split(',') if item.strip()]
        except ValueError:
            _logger.warning('account_webhook.retry_schedule %r is not a list of seconds; using the default', raw)
            return [float(item) for item in DEFAULT_SCHEDULE.split(',')]

    @api.model
    def _number_param(self, key, default):
        """A positive number from a system parameter; a malformed one is reported and ignored."""
        raw = self._param(key, '')
        try:
            value = float(raw) if raw else default
        except ValueError:
            value = 0
        if value <= 0:
            _logger.warning('account_webhook.%s %r is not a positive number; using %s', key, raw, default)
            value = default
        return value

    @api.model
    def _timeouts(self):
        return (self._number_param('timeout_connect', 5.0), self._number_param('timeout_total', 15.0))

    @api.model
    def _lease_seconds(self):
        return int(self._number_param('lease_seconds', LEASE_SECONDS))

    @api.model
    def _session(self):
        """The calling thread's pooled session, rebuilt when the allow-list changes."""
        allowed = self._param('allowed_targets', '')
        cached = getattr(_sessions, 'session', None)
        if cached is None or cached[0] != allowed:
            cached = _sessions.session = (allowed, sender.new_session(allowed))
        return cached[1]

    # -- claiming --------------------------------------------------------------------------

    @api.model
    def _claim(self, limit=50):
        """Lease up to ``limit`` due deliveries to this worker; others skip them (SKIP LOCKED).

        Due: pending and next_attempt_at reached, or sending with an expired lease (a worker
        died mid-send). Order: a delivery waits while an earlier one for the same record and
        callback URL is pending or sending; records do not block each other.
        """
        cr = self.env.cr
        cr.execute(("""
            WITH due AS (
                SELECT d.id FROM webhook_delivery d JOIN webhook_callback c ON c.id = d.callback_id
                 WHERE c.active
                   AND ((d.state = 'pending' AND d.next_attempt_at <= %(now)s)
                        OR (d.state = 'sending' AND d.lease_until < %(now)s))
                   AND NOT EXISTS (
                        SELECT 1 FROM webhook_delivery e JOIN webhook_callback ec ON ec.id = e.callback_id
                         WHERE e.res_model = d.res_model AND e.res_id = d.res_id AND ec.url = c.url
                           AND e.id < d.id AND e.state IN ('pending', 'sending'))
                 ORDER BY d.id LIMIT %%s
                   FOR UPDATE OF d SKIP LOCKED)
            UPDATE webhook_delivery d
               SET state = 'sending', lease_until = %(now)s + interval '1 second' * %%s
              FROM due WHERE d.id = due.id
            RETURNING d.id""" % {'now': NOW_UTC}), (limit, self._lease_seconds()))
        claimed = self.browse(sorted(row[0] for row in cr.fetchall()))
        return claimed - claimed._defer_over_rate_limit()

    def _defer_over_rate_limit(self):
        """Give back the claimed deliveries beyond their callback's rate limit; they wait, not drop."""
        deferred = self.browse()
        if not self:
            return deferred
        self.env.cr.execute("""SELECT DISTINCT c.id FROM webhook_callback c
                                 JOIN webhook_delivery d ON d.callback_id = c.id
                                WHERE d.id IN %s AND c.rate_limit > 0""", (tuple(self.ids),))
        limited = [row[0] for row in self.env.cr.fetchall()]
        for callback in self.env['webhook.callback'].sudo().browse(limited):
            self.env.cr.execute("""
                SELECT count(*), min(a.attempted_at) FROM webhook_delivery_attempt a
                 WHERE a.callback_id = %%s AND a.attempted_at > %s - interval '1 second' * %%s
            """ % NOW_UTC, (callback.id, RATE_WINDOW))
            used, oldest = self.env.cr.fetchone()
            mine = self.filtered(lambda d, cb=callback: d.callback_id == cb)
            extra = mine[max(0, callback.rate_limit - used):]
            if extra:
                free_at = fields.Datetime.from_string(oldest) + datetime.timedelta(seconds=RATE_WINDOW) \
                    if oldest else _now() + datetime.timedelta(seconds=RATE_WINDOW)
                extra.write({'state': 'pending', 'lease_until': False,
                             'next_attempt_at': fields.Datetime.to_string(free_at)})
                deferred |= extra
        return deferred

    # -- sending -----------------------------------------------------------------------------

    @api.model
    def _enqueue(self, rows, stale=()):
        """Write outbox rows ``(callback id, event id, model, record id, operation, payload)`` in one
        statement; a row whose event id exists already (this transaction wrote it) gets the new
        payload. ``stale``: event ids whose pending rows are dropped."""
        if stale:
            self.env.cr.execute("DELETE FROM webhook_delivery WHERE event_id IN %s AND state = 'pending'",
                                (tuple(stale),))
        now = datetime.datetime.utcnow()
        self._insert_rows('webhook_delivery', (
            'callback_id', 'event_id', 'res_model', 'res_id', 'operation', 'payload', 'state', 'attempt_count',
            'next_attempt_at'), [tuple(row) + ('pending', 0, now) for row in rows], now,
            ' ON CONFLICT (event_id) DO UPDATE SET payload = EXCLUDED.payload, write_date = EXCLUDED.write_date')

    @api.model
    def _insert_rows(self, table, columns, rows, now, suffix=''):
        """One multi-row INSERT, with Odoo's log-access columns (the ORM would do one per row)."""
        if not rows:
            return
        cr = self.env.cr
        uid = self.env.uid
        template = '(%s)' % ', '.join(['%s'] * (len(columns) + 4))
        values = ','.join(cr.mogrify(template, tuple(row) + (uid, now, uid, now)).decode('utf-8') for row in rows)
        cr.execute('INSERT INTO "%s" (%s, create_uid, create_date, write_uid, write_date) VALUES %s%s' % (
            table, ', '.join(columns), values, suffix))

    def _jobs(self):
        """What sending needs, read while a transaction is open: ``(delivery id, url, key, event id, body)``."""
        if not self:
            return []
        self.env.cr.execute("""SELECT d.id, c.url, c.key, d.event_id, d.payload FROM webhook_delivery d
                                 JOIN webhook_callback c ON c.id = d.callback_id
                                WHERE d.id IN %s ORDER BY d.id""", (tuple(self.ids),))
        return [row[:4] + (row[4].encode('utf-8'),) for row in self.env.cr.fetchall()]

    @api.model
    def _record_results(self, results):
        """Store each result: one attempt row each, then done, retry later, failed."""
        if not results:
            return
        now = _now()
        schedule = self._retry_schedule()
        self.env.cr.execute('SELECT id, callback_id, attempt_count FROM webhook_delivery WHERE id IN %s',
                            (tuple(delivery_id for delivery_id, _result in results),))
        current = {row[0]: row[1:] for row in self.env.cr.fetchall()}  # deleted meanwhile: absent
        attempt_rows, done = [], {}
        for delivery_id, result in results:
            if delivery_id not in current:
                continue
            callback_id, attempt_count = current[delivery_id]
            attempt_rows.append((delivery_id, callback_id, now, result.status_code or 0,
                                 result.duration_ms, result.excerpt or None, result.error, result.ok))
            if result.ok:
                done.setdefault(result.status_code, []).append(delivery_id)
            else:
                self.sudo().browse(delivery_id)._record_failure(attempt_count + 1, result, now, schedule)
        for status_code, ids in done.items():
            self.env.cr.execute("""
                UPDATE webhook_delivery SET state = 'done', done_at = %s, attempt_count = attempt_count + 1,
                       last_status_code = %s, last_error = NULL, lease_until = NULL,
                       write_date = %s, write_uid = %s
                 WHERE id IN %s""", (now, status_code, now, self.env.uid, tuple(ids)))
        if done:
            self.invalidate_cache(ids=[i for ids in done.values() for i in ids])
        self._insert_rows('webhook_delivery_attempt', (
            'delivery_id', 'callback_id', 'attempted_at', 'status_code', 'duration_ms', 'response_excerpt',
            'error', 'success'), attempt_rows, now)

    def _record_failure(self, attempt, result, now, schedule):
        error = result.error or 'HTTP %s: %s' % (result.status_code, result.excerpt[:500])
        vals = {'attempt_count': attempt, 'last_status_code': result.status_code or 0, 'last_error': error,
                'lease_until': False}
        if result.status_code == 410:
            vals.update(state='failed', last_error=_('HTTP 410 Gone: the receiver asked to stop; '
                                                     'the callback was deactivated.'))
            self.callback_id._deactivate(_('The receiver answered 410 Gone on %s UTC.') % now)
        elif result.blocked:
            vals['state'] = 'failed'
            _logger.warning('Callback %s: delivery %s refused: %s', self.callback_id.id, self.id, result.error)
        else:
            delay = self._retry_delay(attempt, result, schedule)
            if delay is None:
                vals['state'] = 'failed'
            else:
                vals.update(state='pending', next_attempt_at=fields.Datetime.to_string(
                    now + datetime.timedelta(seconds=delay)))
        _logger.info('Callback %s: delivery %s attempt %s failed (%s); now %s', self.callback_id.id, self.id,
                     attempt, error, vals['state'])
        self.write(vals)

    @staticmethod
    def _retry_delay(attempt, result, schedule):
        """Seconds before the next attempt after failed attempt number ``attempt``; None: give up."""
        if attempt > len(schedule):
            return None
        if result.status_code in (429, 503):
            asked = sender.retry_after_seconds(result.retry_after)
            if asked is not None:
                return min(asked, MAX_RETRY_AFTER)
        return schedule[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)

    def _send_now(self):
        """Send these deliveries at once, in the current transaction (tests, the test event)."""
        self._record_results(post_jobs(self._session(), self._timeouts(), self._jobs()))

    @api.model
    def _dispatch_due(self, limit=50):
        """Claim, send and record due deliveries until none is left; returns how many were attempted.

        Each claim and each batch of results is a short transaction of its own, committed at
        once; the HTTP calls happen in between, outside any transaction.
        """
        attempted = 0
        while True:
            with self._short_transaction() as model:
                jobs = model._claim(limit)._jobs()
                session, timeouts = model._session(), model._timeouts()
            if not jobs:
                return attempted
            results = post_jobs(session, timeouts, jobs)
            with self._short_transaction() as model:
                model._record_results(results)
            attempted += len(jobs)

    @contextmanager
    def _short_transaction(self):
        """This model in a transaction of its own, committed on exit, at READ COMMITTED: under Odoo's
        REPEATABLE READ, locking a row another worker committed after this transaction began is a
        serialization failure, not a skip."""
        with api.Environment.manage(), self.pool.cursor() as cr:
            cr.execute('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
            yield api.Environment(cr, SUPERUSER_ID, {})[self._name]

    # -- actions -------------------------------------------------------------------------------

    @api.multi
    def action_resend(self):
        """Send again, with the same event id (webhook-id): receivers deduplicate on it."""
        self.write({'state': 'pending', 'next_attempt_at': fields.Datetime.now(), 'lease_until': False})
        return True

    # -- crons -----------------------------------------------------------------------------------

    @api.model
    def _cron_dispatch(self):
        """The sweep: whatever the fast path left (restart, crash, retries that came due)."""
        self._dispatch_due()

    @api.model
    def _cron_housekeeping(self):
        days = int(self._number_param('retention_days', 30))
        self.env.cr.execute("""
            DELETE FROM webhook_delivery WHERE state = 'done'
               AND done_at < (now() at time zone 'UTC') - interval '1 day' * %s""", (days,))
        self.env['webhook.callback']._deactivate_failing()

    @api.model_cr
    def _register_hook(self):
        super(WebhookDelivery, self)._register_hook()
        if dispatcher.should_run():
            dispatcher.ensure_started(self.env.cr.dbname, NOTIFY_CHANNEL)

    @api.model_cr
    def init(self):
        # What the claims look for: only the rows still to send are indexed (inserts stay cheap).
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS webhook_delivery_due_index ON webhook_delivery (next_attempt_at)
             WHERE state IN ('pending', 'sending');
            CREATE INDEX IF NOT EXISTS webhook_delivery_record_index ON webhook_delivery (res_model, res_id)
             WHERE state IN ('pending', 'sending');
        """)
        # Wake the dispatchers when deliveries become due (PostgreSQL delivers it on commit only).
        # One notification per statement, however many rows it wrote.
        self.env.cr.execute("""
            CREATE OR REPLACE FUNCTION account_webhook_notify() RETURNS trigger AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM account_webhook_changed WHERE state = 'pending') THEN
                    PERFORM pg_notify(%s, current_database());
                END IF;
                RETURN NULL;
            END $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS account_webhook_notify ON webhook_delivery;
            DROP TRIGGER IF EXISTS account_webhook_notify_insert ON webhook_delivery;
            DROP TRIGGER IF EXISTS account_webhook_notify_update ON webhook_delivery;
            CREATE TRIGGER account_webhook_notify_insert AFTER INSERT ON webhook_delivery
                REFERENCING NEW TABLE AS account_webhook_changed
                FOR EACH STATEMENT EXECUTE PROCEDURE account_webhook_notify();
            CREATE TRIGGER account_webhook_notify_update AFTER UPDATE ON webhook_delivery
                REFERENCING NEW TABLE AS account_webhook_changed
                FOR EACH STATEMENT EXECUTE PROCEDURE account_webhook_notify();
        """, (NOTIFY_CHANNEL,))
