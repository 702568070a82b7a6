# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import models


class AccountInvoiceLine(models.Model):
    """Adding, changing or removing a line is an update of its invoice (invoice_line_ids)."""
    _name = 'account.invoice.line'
    _inherit = ['account.invoice.line', 'webhook.mixin']

    _webhook_capable = False
    _webhook_parent_field = 'invoice_id'
