# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""pytest plugin that loads the compat layer before pytest-odoo imports ``odoo``.

Load it early, with ``-p odoo_compat.pytest_plugin`` (pytest.ini does), so it runs
before the ``pytest11`` entry points.
"""
import odoo_compat

odoo_compat.install()
import odoo  # noqa: E402,F401 (pytest-odoo imports it right after this plugin)

odoo_compat.patch_odoo()
