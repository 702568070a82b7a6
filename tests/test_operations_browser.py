# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Operating callbacks in a real browser: health at a glance (the callbacks list, the deliveries
graph), the audit trail of a key rotation in the chatter. Screenshots are left in test-artifacts/
(health-list.png, deliveries-graph.png, deliveries-pivot.png)."""
import os

import pytest

from .conftest import ARTIFACTS, login
from .pgtools import sql

HEALTHY, FAILING = 'Health: healthy receiver', 'Health: failing receiver'


@pytest.fixture
def callbacks(odoo_server, admin_rpc):
    """Two callbacks with a day of deliveries each: one delivered 3 of 4, one whose endpoint
    has failed 6 times in a row; removed afterwards (with their deliveries)."""
    db = odoo_server.database
    ids = []
    try:
        for name, url in ((HEALTHY, 'https://healthy.example.com/hook'),
                          (FAILING, 'https://failing.example.com/hook')):
            ids.append(admin_rpc('webhook.callback', 'create', {
                'name': name, 'model': 'res.partner', 'action': 'create', 'url': url}))
        rows = [(ids[0], 'done', 2), (ids[0], 'done', 3), (ids[0], 'done', 5), (ids[0], 'failed', 6),
                (ids[1], 'pending', 1), (ids[1], 'pending', 2), (ids[1], 'failed', 30)]
        for callback_id, state, hours in rows:
            sql(db, """INSERT INTO webhook_delivery (callback_id, event_id, res_model, res_id, operation, payload,
                                                     state, attempt_count, next_attempt_at, done_at, create_date,
                                                     write_date)
                       VALUES (%s, md5(random()::text), 'res.partner', 1, 'create', '{}', %s, 1,
                               now() at time zone 'UTC',
                               CASE WHEN %s = 'done' THEN (now() at time zone 'UTC') - interval '1 hour' * %s END,
                               (now() at time zone 'UTC') - interval '1 hour' * %s,
                               now() at time zone 'UTC')""", (callback_id, state, state, hours, hours))
        sql(db, """INSERT INTO webhook_delivery_attempt (delivery_id, callback_id, attempted_at, status_code,
                                                         success, create_date, write_date)
                   SELECT id, callback_id, done_at, 200, true, done_at, done_at FROM webhook_delivery
                    WHERE callback_id = %s AND state = 'done'""", (ids[0],))
        sql(db, """INSERT INTO webhook_endpoint (name, consecutive_failures, failing_since, last_error)
                   VALUES ('https://failing.example.com:443', 6, (now() at time zone 'UTC') - interval '2 hours',
                           'Connection refused')
                   ON CONFLICT (name) DO UPDATE SET consecutive_failures = 6""")
        yield ids
    finally:
        sql(db, "DELETE FROM webhook_endpoint WHERE name = 'https://failing.example.com:443'")
        if ids:
            admin_rpc('webhook.callback', 'unlink', ids)


def open_menu(page, base_url, xmlid):
    login(page, base_url)
    page.click('a[data-menu-xmlid="base.menu_administration"]')
    page.click('a[data-menu-xmlid="%s"]' % xmlid)


def row_of(page, name):
    row = page.locator('.o_list_view tr.o_data_row', has_text=name)
    return [cell.strip() for cell in row.locator('td').all_inner_texts()]


def test_the_callbacks_list_shows_health_at_a_glance(odoo_server, page, callbacks):
    open_menu(page, odoo_server.url, 'account_webhook.webhook_callback_menu')
    page.wait_for_selector('.o_list_view tr.o_data_row:has-text("%s")' % FAILING, timeout=30000)
    headers = [text.strip() for text in page.locator('.o_list_view thead th').all_inner_texts()]
    for column in ('State', 'Deliveries (24 h)', 'Delivered (24 h, %)', 'Last delivered'):
        assert column in headers
    healthy, failing = row_of(page, HEALTHY), row_of(page, FAILING)
    assert 'Healthy' in healthy and '4' in healthy and '75.0' in healthy
    assert any(cell.count(':') == 2 for cell in healthy), 'the last delivery time'
    assert 'Failing' in failing and '2' in failing and '0.0' in failing
    assert 'text-danger' in page.locator('.o_list_view tr.o_data_row', has_text=FAILING).get_attribute('class')
    page.wait_for_selector('.o_loading', state='hidden', timeout=30000)
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, 'health-list.png'))
    assert page.js_errors == []


def test_the_deliveries_graph_and_pivot_per_day_state_and_callback(odoo_server, page, callbacks):
    open_menu(page, odoo_server.url, 'account_webhook.webhook_delivery_menu')
    page.wait_for_selector('.o_list_view', timeout=30000)
    page.click('.o_cp_switch_buttons button[data-view-type=graph]')
    page.wait_for_selector('.o_content svg .nv-legend', timeout=30000)
    legend = page.inner_text('.o_content')
    assert 'Delivered' in legend and 'Failed' in legend
    page.wait_for_selector('.o_loading', state='hidden', timeout=30000)
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, 'deliveries-graph.png'))
    page.click('.o_cp_switch_buttons button[data-view-type=pivot]')
    page.wait_for_selector('.o_pivot table', timeout=30000)
    pivot = page.inner_text('.o_pivot table')
    assert HEALTHY in pivot and FAILING in pivot and 'Pending' in pivot
    page.wait_for_selector('.o_loading', state='hidden', timeout=30000)
    page.screenshot(path=os.path.join(ARTIFACTS, 'deliveries-pivot.png'))
    assert page.js_errors == []


def test_a_key_rotation_shows_in_the_chatter_without_the_key(odoo_server, page, admin_rpc, callbacks):
    open_menu(page, odoo_server.url, 'account_webhook.webhook_callback_menu')
    page.click('.o_list_view td:has-text("%s")' % HEALTHY, timeout=30000)
    page.wait_for_selector('.o_form_readonly .o_chatter', timeout=30000)
    page.click('.o_form_statusbar button:has-text("Rotate key")')
    page.click('.modal-footer button:has-text("Ok")')
    page.wait_for_selector('.o_thread_message:has-text("Key rotated")', timeout=30000)
    [callback] = admin_rpc('webhook.callback', 'read', [callbacks[0]], ['key', 'previous_key_expires'])
    assert callback['previous_key_expires']
    assert page.is_visible('.o_field_widget[name=previous_key_expires]')
    chatter = page.inner_text('.o_chatter')
    assert callback['key'] not in chatter
    assert page.js_errors == []


def test_an_alert_and_its_recovery_in_the_chatter_and_the_mail_queue(odoo_server, page, admin_rpc, callbacks):
    """The failing callback's endpoint has failed for 2 hours: the alerts cron (run as its Run
    Manually button does: this server runs no cron) tells the followers once, and once when it
    answers again. Leaves test-artifacts/alerts-chatter.png."""
    db, failing_id = odoo_server.database, callbacks[1]
    monitor = admin_rpc.ref('account_webhook.ir_cron_webhook_monitor')
    admin = admin_rpc('res.users', 'read', [admin_rpc.uid], ['partner_id'])[0]['partner_id'][0]
    assert admin in admin_rpc('webhook.callback', 'read', [failing_id], ['message_partner_ids'])[0][
        'message_partner_ids'], 'the administrator who created it follows it'
    alert = admin_rpc.ref('account_webhook.mt_callback_alert')

    def alerts():
        return admin_rpc('mail.message', 'search_read', [
            ('model', '=', 'webhook.callback'), ('res_id', '=', failing_id), ('subtype_id', '=', alert)],
            fields=['subject', 'body'])
    # the administrator has notifications by email (Odoo's other choice: in its Discuss inbox)
    notification = admin_rpc('res.users', 'read', [admin_rpc.uid], ['notification_type'])[0]['notification_type']
    admin_rpc('res.users', 'write', [admin_rpc.uid], {'notification_type': 'email'})
    try:
        for _run in range(2):
            admin_rpc('ir.cron', 'method_direct_trigger', [monitor])
    finally:
        admin_rpc('res.users', 'write', [admin_rpc.uid], {'notification_type': notification})
    [failing] = alerts()
    assert failing['subject'] == 'Callback %s failing' % FAILING
    assert 'failing since' in failing['body'] and 'Connection refused' in failing['body']
    [email] = admin_rpc('mail.mail', 'search_read', [('mail_message_id', '=', failing['id'])],
                        fields=['state', 'recipient_ids', 'subject'])
    assert email['state'] == 'outgoing' and admin in email['recipient_ids']
    sql(db, "DELETE FROM webhook_endpoint WHERE name = 'https://failing.example.com:443'")  # it answers again
    for _run in range(2):
        admin_rpc('ir.cron', 'method_direct_trigger', [monitor])
    recovered, _failing = alerts()
    assert recovered['subject'] == 'Callback %s recovered' % FAILING
    open_menu(page, odoo_server.url, 'account_webhook.webhook_callback_menu')
    page.click('.o_list_view td:has-text("%s")' % FAILING, timeout=30000)
    page.wait_for_selector('.o_thread_message:has-text("go through again")', timeout=30000)
    assert page.is_visible('.o_thread_message:has-text("have been failing since")')
    page.wait_for_selector('.o_loading', state='hidden', timeout=30000)
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.locator('.o_chatter').screenshot(path=os.path.join(ARTIFACTS, 'alerts-chatter.png'))
    assert page.js_errors == []
