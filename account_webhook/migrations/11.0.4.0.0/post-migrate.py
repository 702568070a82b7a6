# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""11.0.4.0.0: the chatter tracks a callback's URL with its query values masked (url_display), and
URLs are stored as they are sent (sender.checked_url: the host in IDNA form, a non-ASCII path or
query percent-encoded). A URL the new checks refuse is kept as it is (url_display hides its user
name and password) until an administrator edits it: saving the callback then asks for a valid one."""
import logging

from odoo.addons.account_webhook import sender

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    cr.execute('SELECT id, url FROM webhook_callback WHERE url_display IS NULL')
    for callback_id, url in cr.fetchall():
        try:
            checked = sender.checked_url(url)
        except ValueError:
            _logger.warning('Callback %s: its URL %s does not pass the checks of 11.0.4.0.0; it is kept as it is '
                            'until an administrator edits it', callback_id, sender.redacted_url(url))
            checked = url
        cr.execute('UPDATE webhook_callback SET url = %s, endpoint = %s, url_display = %s WHERE id = %s',
                   (checked, sender.endpoint_of(checked), sender.redacted_url(checked), callback_id))
