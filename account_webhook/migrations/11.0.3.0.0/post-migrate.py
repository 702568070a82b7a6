# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""11.0.3.0.0: the addon remembers the database its callbacks send from (see hooks.py)."""
import logging

from odoo.addons.account_webhook.hooks import remember_database

_logger = logging.getLogger(__name__)

# what a database copied before this upgrade remembers instead of a uuid: it is held
COPIED_BEFORE = 'unknown (this database was copied before account_webhook 11.0.3.0.0)'


def remember_database_uuid(cr):
    """The database being upgraded is taken for the one its callbacks were set up in, unless it
    was itself made after them: Odoo's Duplicate and a restore as a copy reset its
    ``database.create_date``, so a database created after its oldest callback is a copy (a staging
    database, say, copied from production before the upgrade). It then remembers no uuid of its
    own and holds its deliveries until an administrator decides. A value already there is kept
    (a re-run of an interrupted upgrade)."""
    cr.execute("""SELECT (SELECT value FROM ir_config_parameter WHERE key = 'database.create_date')::timestamp
                         > (SELECT min(create_date) FROM webhook_callback)""")
    copied = bool(cr.fetchone()[0])
    if copied:
        _logger.warning('account_webhook: this database was created after its callbacks (a copy): its deliveries '
                        'are held until an administrator decides in Settings > Other Settings > Callbacks')
    remember_database(cr, uuid=COPIED_BEFORE if copied else None)


def migrate(cr, version):
    remember_database_uuid(cr)
