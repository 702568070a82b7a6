# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Records the addon writes itself: deliveries, their attempts, endpoints' circuit breakers.

They are the history of what was sent, and what is sent next: an administrator reads them,
resends a delivery (its button), deletes them; nobody edits them. The ORM's ``create``, ``write``
and ``copy`` are refused unless the addon's own code asks, through ``written_by_addon()``: its
context value is a Python object that no XML-RPC or JSON-RPC client can send, and Odoo 11's
superuser (``admin`` over XML-RPC) skips access rights, so rights alone would not do.
"""
from odoo import _, api, models
from odoo.exceptions import AccessError

from ..flags import ServerFlag

WRITTEN_BY_ADDON = ServerFlag('account_webhook_internal')
written_by_addon = WRITTEN_BY_ADDON.on  # records allowed to create and write (the addon's own code only)


class WebhookRecord(models.AbstractModel):
    _name = 'webhook.record'
    _description = 'Record written by the callbacks only'

    def _check_written_by_addon(self):
        if not WRITTEN_BY_ADDON.raised(self.env):
            raise AccessError(_('%s records are written by the callbacks only: they cannot be created or '
                                'changed by hand. A delivery can be sent again with Resend.') % self._description)

    @api.model
    def create(self, vals):
        self._check_written_by_addon()
        return super(WebhookRecord, self).create(vals)

    @api.multi
    def write(self, vals):
        self._check_written_by_addon()
        return super(WebhookRecord, self).write(vals)
