# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""11.0.2.0.0, the concurrent delivery engine: callbacks get their endpoint (scheme://host:port),
which per-endpoint limits and circuit breakers are keyed on. Deliveries are untouched: pending
and retrying ones are claimed by the new engine with their event id, payload and key as they are;
``sending`` ones (a server stopped mid-request) are sent again once their lease runs out."""
import logging

from odoo.addons.account_webhook.sender import endpoint_of

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    cr.execute('SELECT id, url FROM webhook_callback WHERE endpoint IS NULL')
    rows = cr.fetchall()  # callbacks: a few rows, unlike the outbox
    for callback_id, url in rows:
        cr.execute('UPDATE webhook_callback SET endpoint = %s WHERE id = %s', (endpoint_of(url), callback_id))
    _logger.info('account_webhook %s: endpoints of %s callbacks set', version, len(rows))
