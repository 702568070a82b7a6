# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""11.0.3.0.0, operating callbacks: existing callbacks get the chatter's followers a new one gets
(whoever created it, who is then alerted), and a callback deactivated before the upgrade counts as
already told (no alert for an old incident). Deliveries are untouched."""
import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    callbacks = env['webhook.callback'].with_context(active_test=False).search([])  # a few rows
    for callback in callbacks:
        callback.message_subscribe_users(user_ids=callback.create_uid.ids)
    cr.execute("""UPDATE webhook_callback SET alert_state = 'deactivated'
                   WHERE NOT active AND inactive_reason IS NOT NULL AND alert_state IS NULL""")
    _logger.info('account_webhook %s: creators of %s callbacks follow them', version, len(callbacks))
