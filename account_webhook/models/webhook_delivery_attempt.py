# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class WebhookDeliveryAttempt(models.Model):
    """One row per HTTP attempt of a delivery: what happened, for the administrator."""
    _name = 'webhook.delivery.attempt'
    _inherit = ['webhook.record']
    _description = 'Callback delivery attempt'
    _order = 'id desc'

    delivery_id = fields.Many2one('webhook.delivery', required=True, index=True,
                                  ondelete='cascade', readonly=True)
    # A plain many2one (set when the attempt is written), not a stored related field: deleting a
    # callback then queues no recomputation, which Odoo 11 would replay with a closed cursor when it
    # retries the deletion after a serialization failure (the dispatcher updating its deliveries).
    callback_id = fields.Many2one('webhook.callback', required=True, index=True,
                                  ondelete='cascade', readonly=True)
    attempted_at = fields.Datetime(string='Time', required=True, readonly=True, default=fields.Datetime.now)
    status_code = fields.Integer(string='Status code', readonly=True)
    duration_ms = fields.Integer(string='Duration (ms)', readonly=True)
    response_excerpt = fields.Text(string='Response', readonly=True)
    error = fields.Text(readonly=True)
    success = fields.Boolean(string='Delivered', readonly=True)
    sent_by = fields.Char(string='Sent by', readonly=True, help='The dispatcher that sent it: host:process id.')
    # no default: adding the column to a million attempts writes none of them (empty means 1)
    request_size = fields.Integer(string='Events in its request', readonly=True,
                                  help='How many events the request carried (a batch); empty: one.')

    @api.model_cr
    def init(self):
        # the rate limit counts a callback's recent attempts; housekeeping looks for its last success
        self.env.cr.execute('CREATE INDEX IF NOT EXISTS webhook_delivery_attempt_callback_time_index '
                            'ON webhook_delivery_attempt (callback_id, attempted_at)')
        # a callback's last success in one probe (housekeeping's failing-callback check)
        self.env.cr.execute('CREATE INDEX IF NOT EXISTS webhook_delivery_attempt_success_index '
                            'ON webhook_delivery_attempt (callback_id, attempted_at) WHERE success')
