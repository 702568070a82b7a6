# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The callback form's "Request and answer" section in a real browser: the request preview follows
the templates as they are typed, a template naming an unknown field is refused at save, and the
answer rule and the receiver's id show on the deliveries a real receiver answered. Screenshots are
left in test-artifacts/ (api-form-*.png, besides the page fixture's one per test)."""
import json
import os

import pytest

from odoo.addons.account_webhook.tests.receiver import Receiver

from .conftest import ARTIFACTS
from .test_callbacks_form import open_form

WAIT = 30000  # ms: every wait of the browser has this bound


def shot(page, name, field=None):
    """A screenshot of the page, scrolled to ``field`` first (the section below the fold)."""
    page.wait_for_selector('.o_loading', state='hidden', timeout=WAIT)
    if field:
        page.locator('.o_field_widget[name=%s]' % field).scroll_into_view_if_needed(timeout=WAIT)
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, 'api-form-%s.png' % name))


def edit(page):
    page.click('.o_form_button_edit')
    page.wait_for_selector('.o_form_editable textarea.o_field_widget[name=body_template]', timeout=WAIT)


def wait_for_text(page, field, text):
    """Wait until the form's ``field`` shows ``text`` (its onchange has come back)."""
    page.wait_for_function(
        "([field, text]) => { const el = document.querySelector('.o_field_widget[name=' + field + ']');"
        " return !!el && el.innerText.includes(text); }", arg=[field, text], timeout=WAIT)


@pytest.fixture
def contact_callback(admin_rpc):
    """A contact callback (update of name and email) to an API: the form's section to fill in."""
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'Contacts API (browser)', 'model': 'res.partner', 'action': 'update',
        'field_names': ['name', 'email'], 'url': 'https://api.example.com/v1'})
    try:
        yield callback_id
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])


def test_the_preview_shows_the_request_a_template_makes(odoo_server, page, admin_rpc, contact_callback):
    open_form(page, odoo_server.url, contact_callback)
    sample = json.loads(page.inner_text('.o_field_widget[name=sample_payload]'))
    edit(page)
    page.fill('.o_field_widget[name=path_template]', '/contacts/{id}')
    page.select_option('select.o_field_widget[name=method]', label='PUT')
    body_template = '{"full_name": values["name"], "mail": values["email"]}'
    page.fill('textarea.o_field_widget[name=body_template]', body_template)
    page.keyboard.press('Tab')
    request_line = 'PUT https://api.example.com/v1/contacts/%d' % sample['id']
    wait_for_text(page, 'request_preview', request_line)
    wait_for_text(page, 'request_preview', '"full_name"')
    preview = page.inner_text('.o_field_widget[name=request_preview]')
    head, _blank, body = preview.partition('\n\n')
    assert head.strip() == request_line, preview
    assert json.loads(body) == {'full_name': sample['values']['name'], 'mail': sample['values']['email']}
    shot(page, 'preview', 'request_preview')
    page.click('.o_form_button_save')
    page.wait_for_selector('.o_form_readonly .o_field_widget[name=request_preview]', timeout=WAIT)
    [saved] = admin_rpc('webhook.callback', 'read', [contact_callback],
                        ['method', 'path_template', 'body_template'])
    assert (saved['method'], saved['path_template'], saved['body_template']) == \
        ('PUT', '/contacts/{id}', body_template)
    assert page.js_errors == []


def test_a_template_naming_an_unknown_field_is_refused_in_the_form_and_nothing_saved(
        odoo_server, page, admin_rpc, contact_callback):
    open_form(page, odoo_server.url, contact_callback)
    edit(page)
    page.fill('textarea.o_field_widget[name=body_template]', '{"x": values["no_such_field"]}')
    page.keyboard.press('Tab')
    wait_for_text(page, 'request_preview', 'This request cannot be built')
    assert 'no_such_field' in page.inner_text('.o_field_widget[name=request_preview]')
    page.click('.o_form_button_save')
    dialog = page.wait_for_selector('.modal-dialog:has-text("no_such_field")', timeout=WAIT)
    assert 'Validation Error' in dialog.inner_text() and 'Body template' in dialog.inner_text(), \
        dialog.inner_text()
    shot(page, 'refused', 'body_template')
    page.click('.modal-dialog .modal-footer button:has-text("Ok")')
    page.wait_for_selector('.modal-dialog', state='detached', timeout=WAIT)
    page.click('.o_form_button_cancel')  # Discard; Odoo asks before it drops the changes
    page.click('.modal-dialog:has-text("discarded") .modal-footer .btn-primary', timeout=WAIT)
    page.wait_for_selector('.o_form_readonly .o_field_widget[name=name]', timeout=WAIT)
    [saved] = admin_rpc('webhook.callback', 'read', [contact_callback], ['body_template'])
    assert saved['body_template'] is False
    assert 'no_such_field' not in page.inner_text('.o_form_view')
    # the web client logs the refusal it showed in the console: no other error
    assert [error for error in page.js_errors if 'odoo.exceptions.ValidationError' not in error] == []


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def test_the_answer_rule_and_the_receivers_id_show_on_the_deliveries(odoo_server, page, admin_rpc, receiver):
    """The test server runs no dispatcher nor cron: the dispatch cron is run as its Run Manually
    button does, once per event, so that the receiver's answers go to the events in order."""
    targets = admin_rpc('ir.config_parameter', 'get_param', 'account_webhook.allowed_targets') or ''
    admin_rpc('ir.config_parameter', 'set_param', 'account_webhook.allowed_targets', '127.0.0.1')
    others = admin_rpc('webhook.callback', 'search', [])
    admin_rpc('webhook.callback', 'write', others, {'active': False})  # only this test's events go out
    dispatch = admin_rpc.ref('account_webhook.ir_cron_webhook_dispatch')
    callback_id, partners = None, []
    try:
        callback_id = admin_rpc('webhook.callback', 'create', {
            'name': 'Answer rule (browser)', 'model': 'res.partner', 'action': 'create', 'field_names': ['name'],
            'url': receiver.url, 'answer_rule': 'status == "successful"', 'answer_message_path': 'message',
            'receiver_id_path': 'data.id'})
        receiver.answer(200, body=b'{"status": "successful", "data": {"id": 572}}')
        receiver.answer(200, body=b'{"status": "error", "message": "Invalid amount"}')
        for count, name in enumerate(('API contact accepted', 'API contact refused'), 1):
            partners.append(admin_rpc('res.partner', 'create', {'name': name}))
            admin_rpc('ir.cron', 'method_direct_trigger', [dispatch])
            assert len(receiver.wait_for(count, timeout=15)) == count, 'the receiver got no request'
        deliveries = admin_rpc('webhook.delivery', 'search_read', [['callback_id', '=', callback_id]],
                               fields=['res_id', 'state', 'receiver_id', 'last_error'])
        by_record = {delivery['res_id']: delivery for delivery in deliveries}
        accepted, refused = by_record[partners[0]], by_record[partners[1]]
        assert (accepted['state'], accepted['receiver_id']) == ('done', '572')
        assert refused['state'] != 'done' and refused['last_error'] == 'refused by the receiver: Invalid amount'

        open_form(page, odoo_server.url, callback_id)
        assert page.inner_text('.o_field_widget[name=answer_rule]') == 'status == "successful"'
        assert page.inner_text('.o_field_widget[name=receiver_id_path]') == 'data.id'
        shot(page, 'answer-rule', 'answer_rule')
        related = page.locator('.oe_button_box button:has-text("Related records")')
        assert related.inner_text().split()[0] == '2'
        related.click()
        page.wait_for_selector('.o_list_view .o_data_row', timeout=WAIT)
        rows = page.locator('.o_list_view .o_data_row')
        assert rows.count() == 2

        rows.filter(has_text='Delivered').click()
        page.wait_for_selector('.o_form_readonly .o_field_widget[name=receiver_id]', timeout=WAIT)
        assert page.inner_text('.o_field_widget[name=res_id]').replace(',', '') == str(partners[0])
        assert page.inner_text('.o_field_widget[name=receiver_id]') == '572'
        assert "Receiver's id" in [text.strip() for text in page.locator(
            '.o_form_view .o_form_label:visible').all_inner_texts()]
        assert page.locator('.o_field_widget[name=last_error]:visible').count() == 0
        shot(page, 'delivered')

        page.click('.o_control_panel .breadcrumb li a:has-text("Callback deliveries")')
        page.wait_for_selector('.o_list_view .o_data_row', timeout=WAIT)
        page.locator('.o_list_view .o_data_row').filter(has_not_text='Delivered').click()
        page.wait_for_selector('.o_form_readonly .o_field_widget[name=last_error]', timeout=WAIT)
        assert page.inner_text('.o_field_widget[name=res_id]').replace(',', '') == str(partners[1])
        assert page.inner_text('.o_field_widget[name=last_error]') == 'refused by the receiver: Invalid amount'
        assert page.locator('.o_field_widget[name=receiver_id]:visible').count() == 0
        shot(page, 'refused-delivery')
        assert page.js_errors == []
    finally:
        if callback_id:
            admin_rpc('webhook.callback', 'unlink', [callback_id])
        if partners:
            admin_rpc('res.partner', 'unlink', partners)
        admin_rpc('webhook.callback', 'write', others, {'active': True})
        admin_rpc('ir.config_parameter', 'set_param', 'account_webhook.allowed_targets', targets)
