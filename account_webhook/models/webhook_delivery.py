# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .. import runtime, sender
from . import webhook_mixin as capture
from ..runtime import events, outbox, recording
from ..runtime.state import read_state
from ..runtime.engine import NOTIFY_CHANNEL, Engine

_logger = logging.getLogger(__name__)


class WebhookDelivery(models.Model):
    """The outbox: one row per (event, callback), fanned out from the events the capture wrote in
    the transaction of the change (``runtime.events``).

    A rollback drops the events with the change; nothing is sent from inside a transaction.
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
    receiver_id = fields.Char(string="Receiver's id", readonly=True,
                              help="The id the receiver gave the record in its answer (the callback's Receiver's id).")
    attempt_ids = fields.One2many('webhook.delivery.attempt', 'delivery_id', string='Attempts log',
                                  readonly=True)

    _sql_constraints = [
        ('event_unique', 'unique(event_id)', 'A delivery already exists for this event.'),
    ]

    @api.multi
    def name_get(self):
        operations = dict(self._fields['operation']._description_selection(self.env))
        return [(d.id, '%s %s #%s' % (operations.get(d.operation, d.operation), d.res_model, d.res_id))
                for d in self]

    # -- the dispatch runtime, from inside a transaction (tests, actions, the cron) ------------

    def _send_now(self):
        """Send these deliveries at once, in the current transaction (tests, the test event)."""
        if not self:
            return
        state = read_state(self.env.cr)
        if state.held:  # a copy of another database: nothing goes out before an administrator decides
            raise UserError(_('This database is a copy of another, so its callbacks send nothing for now. An '
                              'administrator decides in Settings > Other Settings > Callbacks whether it keeps '
                              'sending or deactivates all callbacks.'))
        settings = state.settings
        jobs = outbox.jobs(self.env.cr, self.ids)
        connections = sender.Connections(settings.allowed_targets)
        try:
            results = [(job, sender.post_job(job, connections, settings)) for job in jobs]
        finally:
            connections.close()
        recording.record(self.env.cr, state, results, runtime.SENT_BY_ACTION)
        self.env['webhook.callback'].clear_caches()  # a 410 deactivates a callback in SQL
        self.env['webhook.callback'].invalidate_cache()
        self.invalidate_cache()

    @api.model
    def _dispatch_due(self, seconds=50, concurrency=None):
        """Send what is due now and record it, with the engine of the dispatchers, on connections of
        its own (only committed deliveries are seen); returns how many were attempted."""
        return Engine([self.env.cr.dbname], listen=False, concurrency=concurrency).drain(seconds)

    @api.model
    def _enqueue(self, rows):
        """Queue outbox rows ``(callback id, event id, model, record id, operation, payload)``, due
        now, in one statement (``outbox.insert``); a row whose event id exists already gets the new
        payload."""
        now = datetime.datetime.utcnow()
        outbox.insert(self.env.cr, [tuple(row) + (self.env.uid, now) for row in rows])

    # -- the captured events: fanned out before the outbox is read ------------------------------

    @api.model
    def _expand_events(self):
        """Fan out the captured events (``runtime.events``) before the outbox is read: those
        committed, in a transaction of their own as a dispatcher does (a reading transaction would
        keep them from the dispatchers until it ends, and lose them if it rolls back), then this
        transaction's own."""
        try:
            with self.pool.cursor() as cr:
                cr.execute('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
                cr.execute("SET LOCAL lock_timeout = '2s'")
                if events.staged(cr):
                    events.expand(cr, limit=events.READ_BATCH, wait=True)
        except psycopg2.Error as error:  # a lock held elsewhere: the dispatchers expand them soon
            _logger.info('account_webhook: committed events not fanned out before reading the outbox: %s', error)
        capture.expand_own(self.env.cr)

    @api.model
    def _search(self, args, offset=0, limit=None, order=None, count=False, access_rights_uid=None):
        self._expand_events()
        return super(WebhookDelivery, self)._search(args, offset=offset, limit=limit, order=order, count=count,
                                                    access_rights_uid=access_rights_uid)

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        self._expand_events()
        return super(WebhookDelivery, self).read_group(domain, fields, groupby, offset=offset, limit=limit,
                                                       orderby=orderby, lazy=lazy)

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
        outbox.requeue(self.env.cr, self.ids, self.env.uid)
        self.invalidate_cache(ids=self.ids)
        return True

    # -- crons -----------------------------------------------------------------------------------

    @api.model
    def _cron_dispatch(self):
        """The sweep: whatever the dispatchers left (none running, a crash, retries that came due)."""
        self._dispatch_due()

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
        # The captured events, fanned out into deliveries by the dispatchers (runtime.events).
        self.env.cr.execute(events.TABLE)
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
            CREATE OR REPLACE FUNCTION account_webhook_notify_event() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_notify(%s, current_database());
                RETURN NULL;
            END $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS account_webhook_notify_event ON webhook_event;
            CREATE TRIGGER account_webhook_notify_event AFTER INSERT ON webhook_event
                FOR EACH STATEMENT EXECUTE PROCEDURE account_webhook_notify_event();
        """, (NOTIFY_CHANNEL, NOTIFY_CHANNEL))
