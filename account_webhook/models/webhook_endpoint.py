# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class WebhookEndpoint(models.Model):
    """Circuit-breaker state of one receiving endpoint (scheme://host:port), shared by every
    dispatcher. Written by the dispatch runtime in SQL (see runtime/recording.py); read by the
    callbacks' health."""
    _name = 'webhook.endpoint'
    _inherit = ['webhook.record']
    _description = 'Callback endpoint'
    _order = 'name'

    name = fields.Char(string='Endpoint', required=True, readonly=True)
    consecutive_failures = fields.Integer(string='Failures in a row', readonly=True)
    failing_since = fields.Datetime(string='Failing since', readonly=True)
    paused_until = fields.Datetime(string='Paused until', readonly=True,
                                   help='Deliveries to this endpoint wait until then; then one probes it.')
    last_error = fields.Text(string='Last error', readonly=True)

    _sql_constraints = [('name_unique', 'unique(name)', 'One row per endpoint.')]
