# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""``odoo webhook-dispatch``: a process that only sends callbacks (see runtime/__init__.py).

    odoo-bin --addons-path=… webhook-dispatch -c /etc/odoo.conf [-d DB[,DB…]]

Odoo finds addon commands through ``--addons-path`` given first. Runs until SIGINT/SIGTERM,
then finishes the requests in flight.
"""
import logging
import signal

import odoo
from odoo.cli.command import Command, commands

from ..runtime.engine import Engine

_logger = logging.getLogger(__name__)


class WebhookDispatch(Command):
    """Run only the account_webhook dispatcher (dedicated sender process)"""

    def run(self, args):
        odoo.tools.config.parse_config(args)
        stopping = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_args: stopping.append(True))
        _logger.info('account_webhook dispatcher started (dedicated process), databases: %s',
                     odoo.tools.config['db_name'] or 'all with the addon')
        Engine().run(lambda: bool(stopping))
        _logger.info('account_webhook dispatcher stopped')


# Odoo 11 names commands after their class; this one is spelled with a dash
commands['webhook-dispatch'] = commands.pop(WebhookDispatch.name)
WebhookDispatch.name = 'webhook-dispatch'
