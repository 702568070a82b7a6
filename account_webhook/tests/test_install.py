# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests.common import TransactionCase, at_install, post_install


@at_install(False)
@post_install(True)
class TestInstall(TransactionCase):
    """Post-install: while Odoo installs or updates the addon (``-i``/``-u``), its state is
    still ``to install``/``to upgrade``; it reads ``installed`` once that has committed, which
    is when Odoo's runner runs post-install tests (and any time pytest-odoo runs them)."""

    def test_addon_installed_with_its_dependencies(self):
        module = self.env['ir.module.module'].search([('name', '=', 'account_webhook')])
        self.assertEqual(module.state, 'installed')
        account = self.env['ir.module.module'].search([('name', '=', 'account')])
        self.assertEqual(account.state, 'installed')
        for model in ('webhook.callback', 'webhook.delivery'):
            self.assertIn(model, self.env)
