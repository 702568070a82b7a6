# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The stack is real: Odoo 11 serves HTTP and XML-RPC from the test database, and its
web client runs in Chromium."""
import urllib.request
import xmlrpc.client

from .conftest import login


def test_login_page_answers_200(odoo_server):
    with urllib.request.urlopen(odoo_server.url + '/web/login', timeout=30) as response:
        assert response.status == 200
        assert b'oe_login_form' in response.read()


def test_xmlrpc_admin_reads_partners(odoo_server, odoo_db):
    common = xmlrpc.client.ServerProxy(odoo_server.url + '/xmlrpc/2/common')
    assert common.version()['server_version'].startswith('11.0')
    uid = common.authenticate(odoo_db, 'admin', 'admin', {})
    assert uid
    models = xmlrpc.client.ServerProxy(odoo_server.url + '/xmlrpc/2/object')
    partners = models.execute_kw(odoo_db, uid, 'admin', 'res.partner', 'search_read',
                                 [[['user_ids', 'in', [uid]]]], {'fields': ['name']})
    assert [p['name'] for p in partners] == ['Administrator']
    module = models.execute_kw(odoo_db, uid, 'admin', 'ir.module.module', 'search_read',
                               [[['name', '=', 'account_webhook']]], {'fields': ['state']})
    assert module[0]['state'] == 'installed'


def test_backend_web_client_loads_without_javascript_errors(odoo_server, page):
    login(page, odoo_server.url)
    page.wait_for_selector('.o_main_content .o_control_panel', state='visible')
    page.wait_for_timeout(1000)
    assert page.js_errors == []
    # styles came through lessc: the navbar is Odoo's dark bar, not an unstyled white block
    background = page.eval_on_selector('#oe_main_menu_navbar', 'e => getComputedStyle(e).backgroundColor')
    assert background not in ('rgba(0, 0, 0, 0)', 'rgb(255, 255, 255)')
