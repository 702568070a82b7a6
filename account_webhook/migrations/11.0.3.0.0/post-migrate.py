# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""11.0.3.0.0."""
from odoo.addons.account_webhook.hooks import remember_database_uuid as _remember


def remember_database_uuid(cr):
    """A copy of a database holds its deliveries (see hooks.py): the database being upgraded is
    the one the callbacks were set up in, so ``account_webhook.database_uuid`` takes its
    ``database.uuid`` (a value already there is kept: a re-run of an interrupted upgrade)."""
    _remember(cr)


def migrate(cr, version):
    remember_database_uuid(cr)
