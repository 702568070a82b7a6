# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Installing: the addon remembers the database it runs in. Uninstalling: what Odoo's own uninstall
leaves behind.

At install (and by the upgrade to 11.0.3.0.0) the system parameter ``account_webhook.database_uuid``
takes the database's ``database.uuid``. Odoo's *Duplicate* and a restore as a copy give the copy a
new ``database.uuid``: the two then differ and the copy's deliveries are held until an
administrator decides (``models/webhook_copy.py``, ``runtime.claims.State.held``).

Odoo drops the addon's tables (with their triggers and indexes) and the records its data files
created (menus, crons, views, the demo callbacks). It keeps system parameters an administrator
set by hand and SQL functions, which belong to no table; this hook removes both, so that a
reinstall starts from a clean database.
"""
import logging

from odoo import SUPERUSER_ID, api

from .runtime.claims import REMEMBERED_UUID

_logger = logging.getLogger(__name__)

PARAM_PREFIX = 'account_webhook.'
# SQL functions the addon creates (account_webhook_notify(), which the outbox triggers call)
FUNCTION_PATTERN = r'account\_webhook%'


def remember_database_uuid(cr, replace=False):
    """``account_webhook.database_uuid`` := ``database.uuid``; an existing value is kept unless
    ``replace``. SQL only: it runs in migrations too, before the registry is complete."""
    cr.execute("""
        INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid, write_date)
        SELECT %(key)s, value, %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
          FROM ir_config_parameter WHERE key = 'database.uuid'
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = EXCLUDED.write_date
                                  WHERE %(replace)s
        RETURNING value""", dict(key=REMEMBERED_UUID, uid=SUPERUSER_ID, replace=bool(replace)))
    row = cr.fetchone()
    if row:
        _logger.info('account_webhook: this database (database.uuid %s) is the one its callbacks send from', row[0])
    api.Environment(cr, SUPERUSER_ID, {})['ir.config_parameter'].clear_caches()


def post_init_hook(cr, registry):
    remember_database_uuid(cr, replace=True)


def uninstall_hook(cr, registry):
    env = api.Environment(cr, SUPERUSER_ID, {})
    params = env['ir.config_parameter'].search([('key', '=like', PARAM_PREFIX.replace('_', r'\_') + '%')])
    params = params.filtered(lambda param: param.key.startswith(PARAM_PREFIX))
    _logger.info('account_webhook uninstall: removing system parameters %s', ', '.join(sorted(params.mapped('key'))))
    params.unlink()
    cr.execute("""SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = current_schema() AND p.proname LIKE %s""", (FUNCTION_PATTERN,))
    for (signature,) in cr.fetchall():
        # CASCADE: the triggers that call it, on tables Odoo drops right after this hook
        _logger.info('account_webhook uninstall: dropping SQL function %s', signature)
        # pylint: disable-next=sql-injection  # signature: PostgreSQL's own regprocedure text, quoted by it
        cr.execute('DROP FUNCTION IF EXISTS %s CASCADE' % signature)
