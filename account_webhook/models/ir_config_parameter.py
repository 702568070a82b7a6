# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The addon's system parameters are checked when they are written (their bounds: ``params.py``), and
switching capture off or on (``account_webhook.capture_disabled``) is logged where administrators
look: the server log and each active callback's chatter."""
import logging

from odoo import _, api, models
from odoo.exceptions import ValidationError

from .. import params
from .webhook_mixin import DISABLED_PARAM

_logger = logging.getLogger(__name__)


class IrConfigParameter(models.Model):
    _inherit = 'ir.config_parameter'

    @api.model
    def create(self, vals):
        self._check_webhook_param(vals.get('key') or '', vals.get('value'))
        was = self._capture_disabled()
        record = super(IrConfigParameter, self).create(vals)
        self._log_capture_switch(was)
        return record

    @api.multi
    def write(self, vals):
        for param in self:
            self._check_webhook_param(vals.get('key', param.key) or '', vals.get('value', param.value))
        was = self._capture_disabled()
        result = super(IrConfigParameter, self).write(vals)
        self._log_capture_switch(was)
        return result

    @api.multi
    def unlink(self):
        was = self._capture_disabled()
        result = super(IrConfigParameter, self).unlink()
        self._log_capture_switch(was)
        return result

    @api.model
    def _webhook_translate(self, source):
        """One of params.py's messages, in the user's language."""
        return self.env['ir.translation']._get_source(None, ('code',), self.env.lang, source) or source

    @api.model
    def _check_webhook_param(self, key, value):
        try:
            params.check(key, value, self._webhook_translate)
        except ValueError as error:
            raise ValidationError(_('%s Nothing was saved.') % error) from None

    @api.model
    def _webhook_param(self, key):
        """The parsed value of the addon's system parameter ``key`` (its default when unset); raises
        ValueError naming it and its bounds (in the user's language) when a bad value was stored
        before it was checked."""
        return params.check(key, self.sudo().get_param(key), self._webhook_translate)

    @api.model
    def _capture_disabled(self):
        self.env.cr.execute('SELECT value FROM ir_config_parameter WHERE key = %s', (DISABLED_PARAM,))
        row = self.env.cr.fetchone()
        return params.switched_off(row[0] if row else '')

    def _log_capture_switch(self, was):
        now = self._capture_disabled()
        if now == was:
            return
        user = self.env.user
        _logger.warning('account_webhook: %s (%s, id %s) switched capture %s for every callback', user.name,
                        user.login, user.id, 'off' if now else 'on')
        message = _('Capture switched off by %s (system parameter account_webhook.capture_disabled): changes of '
                    'records send nothing until it is switched on again.') if now else _(
                        'Capture switched on again by %s: changes of records are sent again.')
        for callback in self.env['webhook.callback'].sudo().search([('active', '=', True)]):
            callback._log(message % user.name)
