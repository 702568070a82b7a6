# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# pylint: disable=consider-merging-classes-inherited  # webhook.callback is split by concern on purpose
"""A copied database does not talk to production receivers.

Odoo's *Duplicate* and a restore as a copy give the copy another name and a new ``database.uuid``;
the addon remembers those it was set up with (``account_webhook.database_name`` and ``_uuid``, see
hooks.py). While they differ the database is *held* (``runtime.state.State.held``): capture still
writes the outbox, nothing is sent, until an administrator decides (``wizards/webhook_copy_decision.py``):
keep sending (the held deliveries go out, with their event ids) or deactivate every callback. Here:
the callbacks' side, the banner of the form and its buttons.
"""
import logging

from odoo import api, fields, models

from ..runtime.state import read_state

_logger = logging.getLogger(__name__)


class WebhookCallback(models.Model):
    _inherit = 'webhook.callback'

    database_copy = fields.Boolean(compute='_compute_database_copy',
                                   help='This database is a copy of another: its callbacks send nothing until an '
                                        'administrator decides.')

    @api.multi
    def _compute_database_copy(self):
        held = read_state(self.env.cr).held
        for callback in self:
            callback.database_copy = held

    @api.multi
    def action_database_copy_keep_sending(self):
        self.env['webhook.copy.decision'].keep_sending()
        return True

    @api.multi
    def action_database_copy_deactivate_all(self):
        self.env['webhook.copy.decision'].deactivate_all()
        return True
