# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests.common import TransactionCase


class TestInstall(TransactionCase):

    def test_addon_installed_with_its_dependencies(self):
        module = self.env['ir.module.module'].search([('name', '=', 'account_webhook')])
        self.assertEqual(module.state, 'installed')
        account = self.env['ir.module.module'].search([('name', '=', 'account')])
        self.assertEqual(account.state, 'installed')
