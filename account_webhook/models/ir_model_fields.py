# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .. import payload

TECHNICAL_NAMES_KEY = 'webhook_technical_names'


class IrModelFields(models.Model):
    """Fields show as technical names (partner_id, state) in the callback form, as in the seed."""
    _inherit = 'ir.model.fields'

    # what the callback form never offers (payload.is_secret): Odoo 11 does not copy a field's groups
    # from the code into ir.model.fields.groups, so no stored column can tell
    webhook_secret = fields.Boolean(
        string='Never sent by callbacks', compute='_compute_webhook_secret', search='_search_webhook_secret',
        help='Restricted to some groups, or named like a password, token, key or secret.')

    @api.model
    def _webhook_is_secret(self, model_name, name):
        field = self.env[model_name]._fields.get(name) if model_name in self.env else None
        return field is not None and payload.is_secret(field)

    @api.depends('model', 'name')
    def _compute_webhook_secret(self):
        for field in self:
            field.webhook_secret = self._webhook_is_secret(field.model, field.name)

    def _search_webhook_secret(self, operator, value):
        if operator not in ('=', '!='):
            raise UserError(_('Never sent by callbacks: only = and != can be searched.'))
        self.env.cr.execute('SELECT id, model, name FROM ir_model_fields WHERE store')
        secret = [row[0] for row in self.env.cr.fetchall() if self._webhook_is_secret(row[1], row[2])]
        return [('id', 'in' if (operator == '=') == bool(value) else 'not in', secret)]

    @api.multi
    def name_get(self):
        if self.env.context.get(TECHNICAL_NAMES_KEY):
            return [(field.id, field.name) for field in self]
        return super(IrModelFields, self).name_get()

    @api.model
    def name_search(self, name='', args=None, operator='ilike', limit=100):
        if self.env.context.get(TECHNICAL_NAMES_KEY):
            domain = ['|', ('name', operator, name), ('field_description', operator, name)] if name else []
            return self.search(domain + list(args or []), limit=limit).name_get()
        return super(IrModelFields, self).name_search(name=name, args=args, operator=operator, limit=limit)
