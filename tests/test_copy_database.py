# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A copy of the test database made by Odoo's own database manager (XML-RPC ``db.duplicate_database``,
which gives the copy a new database.uuid) talks to no receiver until an administrator decides: a
change in the copy is held, the Callbacks menu shows the decision, and after *Keep sending* the held
delivery arrives once, with its original webhook-id."""
import os
import time
import xmlrpc.client

from odoo.addons.account_webhook.tests.receiver import Receiver

from . import pgtools
from .conftest import ARTIFACTS, OdooServer, Rpc, login

MENU = 'a[data-menu-xmlid="account_webhook.webhook_callback_menu"]'
HELD = 'is a copy of another'


def manager_config(config, folder):
    """The test configuration with the database manager on (list_db = True): Odoo refuses
    duplicate_database without it."""
    options = pgtools.odoo_options(config)
    path = os.path.join(str(folder), 'odoo-manager.conf')
    with open(path, 'w') as out:
        out.write('[options]\n')
        for key, value in options.items():
            out.write('%s = %s\n' % (key, 'True' if key == 'list_db' else value))
        if 'list_db' not in options:
            out.write('list_db = True\n')
    return path


def uuids(db):
    return dict(pgtools.sql(db, "SELECT key, value FROM ir_config_parameter "
                                "WHERE key IN ('database.uuid', 'account_webhook.database_uuid')"))


def wait_until(condition, timeout, message):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, message
        time.sleep(0.2)


def test_a_duplicated_database_holds_its_deliveries_until_the_administrator_keeps_sending(
        request, odoo_db, page, tmp_path):
    config = request.config.getoption('--odoo-config')
    copy = '%s_copy_%d' % (odoo_db, os.getpid())
    receiver = Receiver()
    servers = []
    pgtools.drop_database(copy, config)
    try:
        # Odoo's database manager, as Settings > Database Manager > Duplicate calls it
        servers.append(OdooServer(manager_config(config, tmp_path), odoo_db))
        manager = xmlrpc.client.ServerProxy(servers[-1].url + '/xmlrpc/2/db')
        assert manager.duplicate_database(pgtools.odoo_options(config)['admin_passwd'], odoo_db, copy)
        servers.pop().stop()
        original, duplicated = uuids(odoo_db), uuids(copy)
        assert original['account_webhook.database_uuid'] == original['database.uuid']
        assert duplicated['account_webhook.database_uuid'] == original['database.uuid']
        assert duplicated['database.uuid'] != original['database.uuid']

        # the copy served as in production: HTTP, the dispatcher thread, the cron
        server = OdooServer(config, copy, dispatch=True)
        servers.append(server)
        rpc = Rpc(server.url, copy, 'admin', 'admin', timeout=60)
        rpc('ir.config_parameter', 'set_param', 'account_webhook.allowed_targets', '127.0.0.1')
        rpc('webhook.callback', 'write', rpc('webhook.callback', 'search', []), {'active': False})
        callback_id = rpc('webhook.callback', 'create', {
            'name': 'Copy test', 'model': 'res.partner', 'action': 'update', 'field_names': ['email'],
            'url': receiver.url})
        partner_id = rpc('res.partner', 'create', {'name': 'Copy test contact', 'email': 'before@example.com'})
        rpc('res.partner', 'write', [partner_id], {'email': 'after@example.com'})
        [delivery] = rpc('webhook.delivery', 'search_read', [['callback_id', '=', callback_id]],
                         fields=['event_id', 'state'])
        assert delivery['state'] == 'pending'

        # not sent: the dispatcher got the commit's notification and polls every 2 s
        assert receiver.wait_for(1, timeout=5) == []
        assert rpc('webhook.delivery', 'read', [delivery['id']], fields=['state'])[0]['state'] == 'pending'
        wait_until(lambda: server._log_says(HELD), 10, 'the dispatcher did not say the deliveries are held')

        # the administrator opens Settings > Other Settings > Callbacks: the decision comes first
        login(page, server.url)
        page.click('a[data-menu-xmlid="base.menu_administration"]')
        page.click(MENU)
        dialog = page.wait_for_selector('.modal-dialog:has(.o_webhook_database_copy)', timeout=30000)
        text = dialog.inner_text()
        assert 'This database is a copy of another' in text
        assert duplicated['database.uuid'] in text and original['database.uuid'] in text
        assert page.inner_text('.modal-dialog .o_field_widget[name=held_count]').strip() == '1'
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, 'copied-database-decision.png'))
        page.click('.modal-dialog .modal-footer button:has-text("Keep sending")')
        page.wait_for_selector('.o_list_view', timeout=30000)
        assert page.locator('.modal-dialog').count() == 0

        received = receiver.wait_for(1, timeout=15)
        assert [request.headers['webhook-id'] for request in received] == [delivery['event_id']]
        wait_until(lambda: rpc('webhook.delivery', 'read', [delivery['id']], fields=['state'])[0]['state'] == 'done',
                   10, 'the delivery was not recorded as delivered')
        time.sleep(1)
        assert len(receiver.received) == 1  # once
        assert uuids(copy)['account_webhook.database_uuid'] == duplicated['database.uuid']
        assert page.js_errors == []
    finally:
        for server in servers:
            server.stop()
        receiver.close()
        pgtools.drop_database(copy, config)
