# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class WebhookReceiverRef(models.Model):
    """The id a receiver gave a record, per callback (its *Receiver's id*): what a later update or
    delete of the record sends as ``{receiver_id}``. Written by the dispatch runtime in SQL
    (runtime/outbox.py) when a delivery succeeds; readable over XML-RPC by administrators."""
    _name = 'webhook.receiver.ref'
    _inherit = ['webhook.record']
    _description = "Receiver's id of a record"
    _order = 'id desc'

    callback_id = fields.Many2one('webhook.callback', required=True, ondelete='cascade', readonly=True)
    res_model = fields.Char(string='Model', required=True, readonly=True)
    res_id = fields.Integer(string='Record ID', required=True, readonly=True)
    receiver_id = fields.Char(string="Receiver's id", required=True, readonly=True)

    _sql_constraints = [
        ('record_unique', 'unique(callback_id, res_model, res_id)', 'One receiver id per record and callback.'),
    ]

    @api.model_cr
    def init(self):
        # what a claim looks for: the ids given for one record, by any callback of the same URL
        self.env.cr.execute('CREATE INDEX IF NOT EXISTS webhook_receiver_ref_record_index '
                            'ON webhook_receiver_ref (res_model, res_id)')
