# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import logging
import time
from contextlib import contextmanager

import psycopg2
from psycopg2 import errorcodes

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .. import batches, runtime, sender
from .webhook_record import written_by_addon
from ..runtime import claims
from ..runtime.engine import NOTIFY_CHANNEL, Engine

_logger = logging.getLogger(__name__)

# Housekeeping (see _cron_housekeeping): short transactions that give way to anyone else.
HOUSEKEEPING_SECONDS = 30  # per cron call; what is left waits for the next call
BATCH_SECONDS = 0.5  # a cleanup batch (deliveries with their attempts, one transaction) aims at this
FIRST_BATCH, MIN_BATCH, MAX_BATCH = 500, 20, 20000  # deliveries per batch, adapted to BATCH_SECONDS
LOCK_TIMEOUT = '2s'  # waiting longer for a lock (an upgrade's CREATE INDEX, say): stop, go on next call
STATEMENT_TIMEOUT = '5s'  # a statement slower than this is cancelled and the batch made smaller


class WebhookDelivery(models.Model):
    """The outbox: one row per (event, callback), written in the transaction of the change.

    A rollback drops the row with the change; nothing is sent from inside a transaction.
    """
    _name = 'webhook.delivery'
    _inherit = ['webhook.record']
    _description = 'Callback delivery'
    _order = 'id desc'

    # indexed with its creation date (webhook_delivery_callback_created_index, see init)
    callback_id = fields.Many2one('webhook.callback', required=True, ondelete='cascade', readonly=True)
    company_id = fields.Many2one(related='callback_id.company_id', string='Company', readonly=True)
    event_id = fields.Char(string='Event ID', required=True, readonly=True, copy=False,
                           help='Unique per event, the same on every retry and resend (webhook-id header).')
    res_model = fields.Char(string='Model', required=True, readonly=True)
    res_id = fields.Integer(string='Record ID', readonly=True)
    operation = fields.Selection(
        [('create', 'Create'), ('update', 'Update'), ('delete', 'Delete'), ('ping', 'Test event')],
        required=True, readonly=True)
    payload = fields.Text(required=True, readonly=True,
                          help='The exact JSON body that is POSTed.')
    state = fields.Selection(
        [('pending', 'Pending'), ('sending', 'Sending'), ('done', 'Delivered'), ('failed', 'Failed')],
        required=True, default='pending', readonly=True)
    attempt_count = fields.Integer(string='Attempts', readonly=True, default=0)
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

    # -- the dispatch runtime, from inside a transaction (tests, actions, the cron) ------------

    @api.model
    def _settings(self):
        return claims.read_settings(self.env.cr)

    @api.model
    def _claim(self, capacity=50):
        """Lease due deliveries in this transaction, as a dispatcher does (see runtime.claims.claim)."""
        jobs = claims.claim(self.env.cr, claims.read_state(self.env.cr), capacity)
        self.invalidate_cache(ids=[job.id for job in jobs])
        return self.browse([job.id for job in jobs])

    def _send_now(self):
        """Send these deliveries at once, in the current transaction (tests, the test event)."""
        if not self:
            return
        state = claims.read_state(self.env.cr)
        if state.held:  # a copy of another database: nothing goes out before an administrator decides
            raise UserError(_('This database is a copy of another, so its callbacks send nothing for now. An '
                              'administrator decides in Settings > Other Settings > Callbacks whether it keeps '
                              'sending or deactivates all callbacks.'))
        settings = state.settings
        self.env.cr.execute("SELECT %s FROM webhook_delivery d JOIN webhook_callback c ON c.id = d.callback_id "
                            "WHERE d.id IN %%s ORDER BY d.id" % claims.JOB_COLUMNS, (tuple(self.ids),))
        jobs = [claims.Job(row) for row in self.env.cr.fetchall()]
        connections = sender.Connections(settings.allowed_targets)
        try:
            results = [(job, claims.post(job, connections, settings)) for job in jobs]
        finally:
            connections.close()
        claims.record(self.env.cr, state, results, runtime.SENT_BY_ACTION)
        self.env['webhook.callback'].clear_caches()  # a 410 deactivates a callback in SQL
        self.env['webhook.callback'].invalidate_cache()
        self.invalidate_cache()

    @api.model
    def _dispatch_due(self, seconds=50, concurrency=None):
        """Send what is due now and record it, with the engine of the dispatchers, on connections of
        its own (only committed deliveries are seen); returns how many were attempted."""
        return Engine([self.env.cr.dbname], listen=False, concurrency=concurrency).drain(seconds)

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
        # pylint: disable-next=sql-injection  # table, columns, suffix: callers' constants; values by cr.mogrify
        cr.execute('INSERT INTO "%s" (%s, create_uid, create_date, write_uid, write_date) VALUES %s%s' % (
            table, ', '.join(columns), values, suffix))

    # -- actions -------------------------------------------------------------------------------

    @api.multi
    def action_resend(self):
        """Send again, with the same event id (webhook-id): receivers deduplicate on it. Only delivered
        and failed ones (the button's states): one pending or being sent goes out anyway."""
        self.check_access_rights('write')
        self.check_access_rule('write')
        busy = self.filtered(lambda delivery: delivery.state not in ('done', 'failed'))
        if busy:
            raise UserError(_('Resend: %s is still waiting to be sent or being sent; only delivered and failed '
                              'deliveries can be sent again.') % busy[0].display_name)
        written_by_addon(self).write({'state': 'pending', 'next_attempt_at': fields.Datetime.now(),
                                      'lease_until': False})
        return True

    # -- crons -----------------------------------------------------------------------------------

    @api.model
    def _cron_dispatch(self):
        """The sweep: whatever the dispatchers left (none running, a crash, retries that came due)."""
        self._dispatch_due()

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
        savepoint of the caller's transaction. Batches are sized to take about BATCH_SECONDS; a
        step waits at most LOCK_TIMEOUT for a lock: when someone holds one (an upgrade creating
        indexes, an administrator's long transaction), housekeeping stops and goes on at the next
        call instead of queueing in front of them. With ``yield_to_crons`` (and ``commit``) it also
        stops after a batch when another cron job that was due when it began waits for a worker
        (Odoo 11 runs the due jobs one after the other): they wait at most one batch.
        Returns what it did (a dict).
        """
        cr = self.env.cr
        started = time.monotonic()
        report = {'deactivated': 0, 'deliveries': 0, 'attempts': 0, 'transactions': 0, 'longest': 0.0,
                  'stopped': 'finished'}
        settings = claims.read_settings(cr)
        cr.execute("SELECT now() at time zone 'UTC'")
        began = cr.fetchone()[0]
        own_cron = self.env.ref('account_webhook.ir_cron_webhook_housekeeping', raise_if_not_found=False)
        if commit:
            cr.commit()  # pylint: disable=invalid-commit  # cron only: what its runner read is not kept open
        try:
            with self._housekeeping_step(commit, report):
                report['deactivated'] = len(self.env['webhook.callback']._deactivate_failing())
        except psycopg2.Error as error:
            if error.pgcode not in batches.GIVE_WAY:
                raise
            _logger.info('Callbacks housekeeping: failing callbacks not checked (%s); next time', error.pgcode)
        size, last = FIRST_BATCH, 0.0
        for state, column, days in (('done', 'done_at', settings.retention_days),
                                    ('failed', 'write_date', settings.failed_retention_days)):
            while report['stopped'] == 'finished':
                if time.monotonic() - started + last > max_seconds:
                    report['stopped'] = 'time'
                    break
                step = time.monotonic()
                try:
                    with self._housekeeping_step(commit, report):
                        deliveries = self._delete_old(state, column, days, size, report)
                except psycopg2.Error as error:
                    if error.pgcode == errorcodes.QUERY_CANCELED and size > MIN_BATCH:
                        size = max(MIN_BATCH, size // 4)
                        continue
                    if error.pgcode not in batches.GIVE_WAY:
                        raise
                    report['stopped'] = 'lock' if error.pgcode == errorcodes.LOCK_NOT_AVAILABLE else error.pgcode
                    break
                last = time.monotonic() - step
                if deliveries < size:
                    break  # none of this state is old enough any more
                if commit and yield_to_crons and self._crons_waiting(began, own_cron.id if own_cron else 0):
                    report['stopped'] = 'cron'
                    break
                size = int(min(MAX_BATCH, max(MIN_BATCH, size * min(2.0, BATCH_SECONDS / max(last, 0.001)))))
        self.invalidate_cache()
        report['seconds'] = time.monotonic() - started
        if report['deliveries'] or report['stopped'] != 'finished':
            _logger.info('Callbacks housekeeping: %(deliveries)s deliveries and %(attempts)s attempts deleted in '
                         '%(transactions)s transactions (longest %(longest).2fs) in %(seconds).1fs; stopped: '
                         '%(stopped)s', report)
        return report

    @contextmanager
    def _housekeeping_step(self, commit, report):
        """One step of housekeeping: its own transaction (committed) or a savepoint, with short lock
        and statement timeouts; its duration counts in ``report['longest']``."""
        started = time.monotonic()
        with batches.short_transaction(self.env.cr, commit, LOCK_TIMEOUT, STATEMENT_TIMEOUT):
            yield
        report['transactions'] += 1
        report['longest'] = max(report['longest'], time.monotonic() - started)

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

    @api.model_cr
    def _register_hook(self):
        super(WebhookDelivery, self)._register_hook()
        runtime.registry_loaded()

    @api.model_cr
    def init(self):
        # What the claims look for: only the rows still to send are indexed (inserts stay cheap).
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS webhook_delivery_due_index ON webhook_delivery (next_attempt_at)
             WHERE state IN ('pending', 'sending');
            CREATE INDEX IF NOT EXISTS webhook_delivery_record_index ON webhook_delivery (res_model, res_id)
             WHERE state IN ('pending', 'sending');
            CREATE INDEX IF NOT EXISTS webhook_delivery_first_index ON webhook_delivery (callback_id, id)
             WHERE state = 'pending' AND attempt_count = 0;
            CREATE INDEX IF NOT EXISTS webhook_delivery_retry_index ON webhook_delivery (callback_id, next_attempt_at)
             WHERE state = 'pending' AND attempt_count > 0;
            CREATE INDEX IF NOT EXISTS webhook_delivery_sending_index ON webhook_delivery (callback_id, lease_until)
             WHERE state = 'sending';
        """)
        # Housekeeping finds old deliveries of each final state without reading the others.
        # The deliveries list (ordered by id, filtered and grouped by state, callback or model, with
        # the sums read_group adds for the list's integer columns) and its counts read this index
        # only, never the wide rows with their payloads; Record ID searches have their own.
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS webhook_delivery_done_index ON webhook_delivery (done_at)
             WHERE state = 'done';
            CREATE INDEX IF NOT EXISTS webhook_delivery_failed_index ON webhook_delivery (write_date)
             WHERE state = 'failed';
            CREATE INDEX IF NOT EXISTS webhook_delivery_list_index ON webhook_delivery
                   (state, id, callback_id, res_model, res_id, attempt_count, last_status_code);
            CREATE INDEX IF NOT EXISTS webhook_delivery_res_id_index ON webhook_delivery (res_id);
        """)
        # A callback's deliveries by creation date: its health over the last 24 hours, the replay of
        # a period (in (create_date, id) order), the deliveries of one callback (the form's count,
        # the cascade when a callback is deleted), index-only with the state. And all deliveries by
        # creation date: the Today filter, the graph and pivot views (per day, state and callback).
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS webhook_delivery_callback_created_index ON webhook_delivery
                   (callback_id, create_date, id) INCLUDE (state);
            CREATE INDEX IF NOT EXISTS webhook_delivery_created_index ON webhook_delivery
                   (create_date) INCLUDE (state, callback_id);
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
