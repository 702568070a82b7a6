# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""11.0.4.0.0: the chatter tracks a callback's URL with its query values masked (url_display)."""
from odoo.addons.account_webhook import sender


def migrate(cr, version):
    if not version:
        return
    cr.execute('SELECT id, url FROM webhook_callback WHERE url_display IS NULL')
    for callback_id, url in cr.fetchall():
        cr.execute('UPDATE webhook_callback SET url_display = %s WHERE id = %s',
                   (sender.redacted_url(url), callback_id))
