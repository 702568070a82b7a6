# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

NOTIFY_CHANNEL = 'account_webhook_delivery'


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
        string='State', required=True, default='pending', readonly=True, index=True)
    attempt_count = fields.Integer(string='Attempts', readonly=True)
    next_attempt_at = fields.Datetime(string='Next attempt', readonly=True, default=fields.Datetime.now,
                                      index=True)
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

    @api.model_cr
    def init(self):
        # Wake the dispatchers when a delivery becomes due (delivered on commit only).
        self.env.cr.execute("""
            CREATE OR REPLACE FUNCTION account_webhook_notify() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_notify(%s, current_database());
                RETURN NULL;
            END $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS account_webhook_notify ON webhook_delivery;
            CREATE TRIGGER account_webhook_notify AFTER INSERT OR UPDATE OF state ON webhook_delivery
                FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE PROCEDURE account_webhook_notify();
        """, (NOTIFY_CHANNEL,))
