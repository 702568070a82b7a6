# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The administrator's journey in a real browser against a running Odoo (dispatcher on): set up a
callback in the form, validate an invoice in the Invoicing app, see the delivery done."""
import json
import os

import pytest

from odoo.addons.account_webhook.tests.receiver import Receiver

from .conftest import ARTIFACTS, Rpc
from .test_callbacks_form import new_callback, open_callbacks, pick, pick_tracked_field


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def shot(page, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, 'journey-%s.png' % name))


def test_admin_sets_up_a_callback_and_sees_an_invoice_validation_delivered(product_server, page, receiver):
    rpc = Rpc(product_server.url, product_server.database, 'admin', 'admin')
    rpc('ir.config_parameter', 'set_param', 'account_webhook.allowed_targets', '127.0.0.1')
    others = rpc('webhook.callback', 'search', [])
    rpc('webhook.callback', 'write', others, {'active': False})
    customer_name = 'Browser Customer %d' % product_server.port  # unique in a database kept between runs
    customer = rpc('res.partner', 'create', {'name': customer_name, 'customer': True})
    try:
        # Settings -> Other Settings -> Callbacks -> Create; the sample follows the picked fields
        new_callback(page, product_server.url, 'Invoice states to the ERP', 'Update', 'Invoice')
        assert sorted(pick_tracked_field(page, 'state')['values']) == ['state']
        assert sorted(pick_tracked_field(page, 'partner_id')['values']) == ['partner_id', 'state']
        page.fill('.o_field_widget[name=url]', receiver.url)
        shot(page, '1-callback-form')
        page.click('.o_form_button_save')
        page.wait_for_selector('.o_form_readonly')
        [callback] = rpc('webhook.callback', 'search_read', [['name', '=', 'Invoice states to the ERP']],
                         fields=['model', 'action', 'url'])
        assert (callback['model'], callback['action'], callback['url']) == ('account.invoice', 'update', receiver.url)

        # Invoicing -> Customer Invoices -> Create, one line, Save, Validate
        page.click('a[data-menu-xmlid="account.menu_finance"]')
        page.click('a[data-menu-xmlid="account.menu_action_invoice_tree1"]')
        page.wait_for_selector('.o_list_button_add')
        page.click('.o_list_button_add')
        page.wait_for_selector('.o_form_editable')
        pick(page, 'partner_id', customer_name)
        page.click('.o_field_x2many_list_row_add a')
        page.fill('.o_data_row .o_field_widget[name=name]', 'Consulting (browser)')
        for _try in range(3):  # the line's onchanges may reset a price typed while they run: type it again
            page.fill('.o_data_row .o_field_widget[name=price_unit]', '250')
            page.keyboard.press('Tab')
            try:
                page.wait_for_selector('.o_field_widget[name=amount_total]:has-text("250.00")', timeout=5000)
                break
            except Exception:
                continue
        shot(page, '2-invoice-draft')
        page.click('.o_form_button_save')
        page.wait_for_selector('.o_form_readonly')
        page.click('.o_statusbar_buttons button:visible:has-text("Validate")')
        page.wait_for_selector('.o_statusbar_status .btn-primary:has-text("Open")')
        shot(page, '3-invoice-open')
        assert page.js_errors == []

        # the receiver got the validation, signed; the callback's Related records show it delivered
        [request] = receiver.wait_for(1)
        event = request.json
        assert (event['object'], event['operation'], event['changed']) == ('account.invoice', 'update', ['state'])
        assert event['values'] == {'partner_id': customer, 'state': 'open'}
        assert request.headers['webhook-signature'].startswith('v1,')
        open_callbacks(page, product_server.url)
        page.click('.o_list_view td:has-text("Invoice states to the ERP")')
        page.wait_for_selector('.o_form_readonly')
        related = page.locator('.oe_button_box button:has-text("Related records")')
        assert related.inner_text().split()[0] == '1'
        related.click()
        page.wait_for_selector('.o_list_view .o_data_row')
        row = page.inner_text('.o_list_view .o_data_row')
        assert 'Delivered' in row and 'account.invoice' in row
        shot(page, '4-related-records')
        page.click('.o_list_view .o_data_row')
        page.wait_for_selector('.o_form_readonly')
        assert json.loads(page.inner_text('.o_field_widget[name=payload]')) == event
        shot(page, '5-delivery')
    finally:
        ids = rpc('webhook.callback', 'search', [['name', '=', 'Invoice states to the ERP']])
        rpc('webhook.callback', 'unlink', ids)
        rpc('webhook.callback', 'write', others, {'active': True})
        rpc('ir.config_parameter', 'set_param', 'account_webhook.allowed_targets', '')
