# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Uninstalling: what Odoo's own uninstall leaves behind.

Odoo drops the addon's tables (with their triggers and indexes) and the records its data files
created (menus, crons, views, the demo callbacks). It keeps system parameters an administrator
set by hand and SQL functions, which belong to no table; this hook removes both, so that a
reinstall starts from a clean database.
"""
import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)

PARAM_PREFIX = 'account_webhook.'
# SQL functions the addon creates (account_webhook_notify(), which the outbox triggers call)
FUNCTION_PATTERN = r'account\_webhook%'


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
