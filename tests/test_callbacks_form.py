# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The callbacks form in a real browser, as the seed shows it, in English and Lithuanian."""
import json
import re

from .conftest import login

MENU = 'a[data-menu-xmlid="account_webhook.webhook_callback_menu"]'


def open_callbacks(page, base_url):
    login(page, base_url)
    page.click('a[data-menu-xmlid="base.menu_administration"]')
    page.click(MENU)
    page.wait_for_selector('.o_list_button_add')


def pick(page, field, text):
    """Type into a many2one / many2many_tags field and pick the matching suggestion."""
    field_input = page.locator('.o_field_widget[name=%s] input' % field)
    field_input.fill(text)
    page.locator('.ui-autocomplete:visible li a', has_text=re.compile('^%s$' % re.escape(text))).first.click()


def new_callback(page, base_url, name, action, model):
    """Settings -> Other Settings -> Callbacks -> Create, with the first fields filled in."""
    open_callbacks(page, base_url)
    page.click('.o_list_button_add')
    page.wait_for_selector('.o_form_editable')
    page.fill('.o_field_widget[name=name]', name)
    page.select_option('select.o_field_widget[name=action]', label=action)
    pick(page, 'model_id', model)


def pick_tracked_field(page, name):
    """Add a field in the tags widget and wait for the sample payload to show it."""
    pick(page, 'field_ids', name)
    page.wait_for_function("document.querySelector('.o_field_widget[name=sample_payload]')"
                           ".innerText.includes('\"%s\"')" % name)
    return json.loads(page.inner_text('.o_field_widget[name=sample_payload]'))


def form_labels(page):
    return [t.strip() for t in page.locator('.o_form_view .o_form_label').all_inner_texts()]


def test_admin_creates_a_callback_in_the_form(odoo_server, page, admin_rpc):
    new_callback(page, odoo_server.url, 'Invoice callback (browser)', 'Create', 'Invoice')
    sample_before = pick_tracked_field(page, 'partner_id')
    sample = pick_tracked_field(page, 'state')
    assert sorted(sample_before['values']) == ['partner_id']
    assert (sample['object'], sample['operation']) == ('account.invoice', 'create')
    assert sorted(sample['values']) == ['partner_id', 'state']
    page.fill('.o_field_widget[name=url]', 'https://erp.example.com/hooks')
    page.click('.o_form_button_save')
    page.wait_for_selector('.o_form_readonly')

    assert form_labels(page)[:6] == ['Name', 'Unique key', 'Callback action', 'Record model name', 'Fields',
                                     'Callback URL']
    assert page.locator('.o_field_widget[name=field_ids] .badge').all_inner_texts() == ['partner_id', 'state']
    assert 'Related records' in page.inner_text('.oe_button_box')
    assert 'Active' in page.inner_text('.oe_button_box')
    assert 'Sample payload structure' in page.inner_text('.o_form_view')
    assert page.inner_text('.o_field_widget[name=revision_info]').startswith('Revision #1 · Created ')
    assert page.js_errors == []
    [saved] = admin_rpc('webhook.callback', 'search_read', [['name', '=', 'Invoice callback (browser)']],
                        fields=['model', 'action', 'url'])
    assert (saved['model'], saved['action'], saved['url']) == \
        ('account.invoice', 'create', 'https://erp.example.com/hooks')


def test_form_reads_as_the_seed_in_lithuanian(odoo_server, page, admin_rpc):
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'Sąskaitos faktūros atgalinis skambutis', 'model': 'account.invoice', 'action': 'create',
        'field_names': ['partner_id', 'invoice_line_ids', 'state'], 'url': 'https://update-webhook.com'})
    admin_rpc('res.users', 'write', [admin_rpc.uid], {'lang': 'lt_LT'})
    try:
        open_callbacks(page, odoo_server.url)
        sidebar = page.inner_text('.o_sub_menu_content')
        assert 'Kiti nustatymai' in sidebar and 'Atgaliniai skambučiai' in sidebar
        page.click('.o_list_view td:has-text("Sąskaitos faktūros atgalinis skambutis")', timeout=30000)
        page.wait_for_selector('.o_form_readonly')
        assert form_labels(page)[:6] == ['Pavadinimas', 'Unikalus raktas', 'Atgalinio skambučio veiksmas',
                                         'Įrašo modelio pavadinimas', 'Laukai', 'Atsako nuoroda']
        assert page.inner_text('.o_field_widget[name=action]') == 'Kūrimas'
        assert 'Susiję įrašai' in page.inner_text('.oe_button_box')
        assert 'Aktyvus' in page.inner_text('.oe_button_box')
        assert 'Pavyzdinė siunčiamų duomenų struktūra' in page.inner_text('.o_form_view')
        assert page.inner_text('.o_field_widget[name=revision_info]').startswith('Pataisymas #1 · Sukurta ')
        assert page.js_errors == []
    finally:
        admin_rpc('res.users', 'write', [admin_rpc.uid], {'lang': 'en_US'})
        admin_rpc('webhook.callback', 'unlink', [callback_id])


def test_accountant_has_no_callbacks_menu_and_the_action_is_denied(odoo_server, page, accountant_rpc, admin_rpc):
    login(page, odoo_server.url, accountant_rpc_login(admin_rpc, accountant_rpc), 'accountant')
    assert page.locator(MENU).count() == 0
    action_id = admin_rpc.ref('account_webhook.webhook_callback_action')
    page.goto(odoo_server.url + '/web#action=%d' % action_id)
    page.wait_for_selector('.o_dialog_warning, .modal-dialog', timeout=30000)
    assert 'Access' in page.inner_text('.modal-dialog')
    assert page.locator('.o_list_view').count() == 0


def accountant_rpc_login(admin_rpc, accountant_rpc):
    return admin_rpc('res.users', 'read', [accountant_rpc.uid], fields=['login'])[0]['login']



def open_form(page, base_url, callback_id):
    login(page, base_url)
    page.goto(base_url + '/web#id=%d&model=webhook.callback&view_type=form' % callback_id)
    page.wait_for_selector('.o_form_readonly .o_field_widget[name=name]')


def test_extra_headers_are_masked_when_read_and_edited(odoo_server, page, admin_rpc):
    secret = 'Authorization: Bearer s3cr3t'
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'With headers (browser)', 'model': 'res.partner', 'action': 'create', 'field_names': ['name'],
        'url': 'https://erp.example.com/hooks', 'headers': secret})
    try:
        open_form(page, odoo_server.url, callback_id)
        assert page.inner_text('.o_field_widget[name=headers]') == '*' * len(secret)
        assert 's3cr3t' not in page.inner_text('.o_form_view')
        page.click('.o_form_button_edit')
        page.wait_for_selector('.o_form_editable textarea.o_field_widget[name=headers]')
        masking = page.eval_on_selector('textarea.o_field_widget[name=headers]',
                                        'el => getComputedStyle(el).webkitTextSecurity')
        assert masking == 'disc'
        assert page.js_errors == []
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])


def test_the_filter_is_edited_with_the_domain_editor_of_the_model(odoo_server, page, admin_rpc):
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'Filtered (browser)', 'model': 'account.invoice', 'action': 'create', 'field_names': ['state'],
        'url': 'https://erp.example.com/hooks', 'filter_domain': [['type', '=', 'out_invoice']]})
    try:
        open_form(page, odoo_server.url, callback_id)
        # the domain editor knows the model from the technical name: it names the invoice's field
        page.wait_for_selector('.o_field_widget[name=filter_domain] .o_domain_show_selection_button')
        domain_text = page.inner_text('.o_field_widget[name=filter_domain]')
        assert 'Type' in domain_text and 'record' in domain_text
        assert page.js_errors == []
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])


BACKFILL_BUTTON = '.o_statusbar_buttons button:visible:has-text("Send existing records")'


def test_the_backfill_returns_at_once_and_its_progress_shows_on_the_form(odoo_server, page, admin_rpc):
    partner_id = admin_rpc('res.partner', 'create', {'name': 'Backfill browser partner'})
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'Backfill (browser)', 'model': 'res.partner', 'action': 'create', 'field_names': ['name'],
        'url': 'https://erp.example.com/hooks', 'filter_domain': [['id', '=', partner_id]]})
    try:
        open_form(page, odoo_server.url, callback_id)
        assert page.locator('.o_form_view .alert-info:visible').count() == 0  # never asked: no line
        page.click(BACKFILL_BUTTON)
        page.locator('.modal-footer .btn-primary').click()  # Odoo's confirm dialog
        # the form shows where it is: asked (queued within seconds, by a thread that waits for the
        # commit; this test server runs no cron), or already done
        page.wait_for_selector('.o_field_widget[name=backfill_progress]:visible')
        progress = page.inner_text('.o_field_widget[name=backfill_progress]')
        assert progress == 'Backfill: 0 of 1 records queued' or progress.startswith('Backfill done: 1 records'), \
            progress
        if not progress.startswith('Backfill done'):
            assert page.locator(BACKFILL_BUTTON).count() == 0  # not twice at once
        assert page.js_errors == []
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])
        admin_rpc('res.partner', 'unlink', [partner_id])


def test_a_reserved_header_in_the_form_is_refused_and_nothing_saved(odoo_server, page, admin_rpc):
    new_callback(page, odoo_server.url, 'Bad header (browser)', 'Create', 'Contact')
    page.fill('.o_field_widget[name=url]', 'https://erp.example.com/hooks')
    page.fill('textarea.o_field_widget[name=headers]', 'Authorization: Bearer x\nHost: evil.example.com')
    page.click('.o_form_button_save')
    dialog = page.wait_for_selector('.modal-dialog:has-text("Host")', timeout=15000)
    assert 'Host' in dialog.inner_text()
    assert admin_rpc('webhook.callback', 'search_count', [['name', '=', 'Bad header (browser)']]) == 0
