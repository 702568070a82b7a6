# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

TECHNICAL_NAMES_KEY = 'webhook_technical_names'


class IrModelFields(models.Model):
    """Fields show as technical names (partner_id, state) in the callback form, as in the seed."""
    _inherit = 'ir.model.fields'

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
