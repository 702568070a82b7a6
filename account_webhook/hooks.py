# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Installing: the addon remembers the database it runs in. Uninstalling: what Odoo's own uninstall
leaves behind.

At install (and by the upgrade to 11.0.3.0.0) the system parameters ``account_webhook.database_uuid``
and ``account_webhook.database_name`` take the database's ``database.uuid`` and name. A copy has
another name from its first moment, and Odoo's *Duplicate* and a restore as a copy give it a new
``database.uuid`` at their end: the copy's deliveries are held until an administrator decides
(``models/webhook_copy.py``, ``runtime.state.State.held``).

Odoo drops the addon's tables (with their triggers and indexes) and the records its data files
created (menus, crons, views, the demo callbacks). It keeps system parameters an administrator
set by hand, SQL functions, which belong to no table, and the callbacks' chatter; this hook
removes them, so that a reinstall starts from a clean database.
"""
import logging

from odoo import SUPERUSER_ID, api

from .runtime.state import REMEMBERED_NAME, REMEMBERED_UUID

_logger = logging.getLogger(__name__)

PARAM_PREFIX = 'account_webhook.'
# SQL functions the addon creates (account_webhook_notify(), which the outbox triggers call)
FUNCTION_PATTERN = r'account\_webhook%'


def remember_database(cr, replace=False, uuid=None):
    """``account_webhook.database_uuid`` := ``database.uuid`` (or ``uuid``) and
    ``account_webhook.database_name`` := the database's name; existing values are kept unless
    ``replace``. SQL only: it runs in migrations too, before the registry is complete."""
    cr.execute("""
        INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid, write_date)
        SELECT v.key, v.value, %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
          FROM (VALUES (%(uuid_key)s, COALESCE(%(uuid)s, (SELECT value FROM ir_config_parameter
                                                            WHERE key = 'database.uuid'))),
                       (%(name_key)s, current_database()::varchar)) v(key, value)
         WHERE v.value IS NOT NULL
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = EXCLUDED.write_date
                                  WHERE %(replace)s
        RETURNING value""", dict(uuid_key=REMEMBERED_UUID, name_key=REMEMBERED_NAME, uuid=uuid, uid=SUPERUSER_ID,
                                  replace=bool(replace)))
    remembered = [row[0] for row in cr.fetchall()]
    if remembered:
        _logger.info('account_webhook: this database (%s) is the one its callbacks send from', ', '.join(remembered))
    api.Environment(cr, SUPERUSER_ID, {})['ir.config_parameter'].clear_caches()


def post_init_hook(cr, registry):
    remember_database(cr, replace=True)


def uninstall_hook(cr, registry):
    env = api.Environment(cr, SUPERUSER_ID, {})
    params = env['ir.config_parameter'].search([('key', '=like', PARAM_PREFIX.replace('_', r'\_') + '%')])
    params = params.filtered(lambda param: param.key.startswith(PARAM_PREFIX))
    _logger.info('account_webhook uninstall: removing system parameters %s', ', '.join(sorted(params.mapped('key'))))
    params.unlink()
    # Odoo removes the followers of the addon's models, not their chatter: the callbacks' messages
    # (tracking values with their URLs, alerts still in the mail queue) go with the callbacks
    cr.execute("DELETE FROM mail_message WHERE model IN ('webhook.callback', 'webhook.replay')")
    _logger.info('account_webhook uninstall: %s chatter messages removed', cr.rowcount)
    cr.execute('DROP TABLE IF EXISTS webhook_event')  # the captured events' table is no model's
    cr.execute("""SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = current_schema() AND p.proname LIKE %s""", (FUNCTION_PATTERN,))
    for (signature,) in cr.fetchall():
        # CASCADE: the triggers that call it, on tables Odoo drops right after this hook
        _logger.info('account_webhook uninstall: dropping SQL function %s', signature)
        # pylint: disable-next=sql-injection  # signature: PostgreSQL's own regprocedure text, quoted by it
        cr.execute('DROP FUNCTION IF EXISTS %s CASCADE' % signature)
