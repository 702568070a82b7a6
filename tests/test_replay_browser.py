# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Replay deliveries of a period: the wizard of the callback form in a real Chromium, and the same over
XML-RPC as an integrator calls it. The server of these tests runs no cron: the replay cron's work is
run as its "Run Manually" does (ir.cron.method_direct_trigger, committing each batch)."""
import datetime
import os
import uuid
import xmlrpc.client

import pytest

from .conftest import ARTIFACTS, login
from .pgtools import sql

REPLAY_BUTTON = '.o_statusbar_buttons button:visible:has-text("Replay deliveries")'
DIALOG = '.modal-dialog:has(.o_form_view)'


def make_callback(rpc, name):
    return rpc('webhook.callback', 'create', {
        'name': name, 'model': 'res.partner', 'action': 'update', 'field_names': ['email'],
        'url': 'https://erp.example.com/hooks'})


def add_deliveries(db, callback_id, rows):
    """Committed outbox rows ``(recorded at (UTC), state)``; returns their (id, event id)s."""
    made = []
    for created, state in rows:
        event_id = str(uuid.uuid4())
        [(delivery_id,)] = sql(db, """
            INSERT INTO webhook_delivery (callback_id, event_id, res_model, res_id, operation, payload, state,
                                          attempt_count, next_attempt_at, create_date, write_date)
            VALUES (%s, %s, 'res.partner', 1, 'update', %s, %s, 8, NULL, %s, %s) RETURNING id""",
            (callback_id, event_id, '{"id": "%s"}' % event_id, state, created, created))
        made.append((delivery_id, event_id))
    return made


def states(db, deliveries):
    rows = dict((row[0], row[1:]) for row in sql(db, 'SELECT id, state, event_id FROM webhook_delivery WHERE id IN %s',
                                                 (tuple(d[0] for d in deliveries),)))
    return [(rows[d[0]][0], rows[d[0]][1] == d[1]) for d in deliveries]


def open_replay_dialog(page, base_url, callback_id):
    login(page, base_url)
    page.goto(base_url + '/web#id=%d&model=webhook.callback&view_type=form' % callback_id)
    page.wait_for_selector('.o_form_readonly .o_field_widget[name=name]', timeout=30000)
    page.click(REPLAY_BUTTON, timeout=15000)
    page.wait_for_selector(DIALOG + ' .o_field_widget[name=date_from] input', timeout=15000)
    return page.locator(DIALOG)


def to_browser_time(page, utc):
    """A UTC time as the web client shows it: in the browser's time zone, MM/DD/YYYY HH:MM:SS."""
    offset = page.evaluate('(ms) => new Date(ms).getTimezoneOffset()',
                           (utc - datetime.datetime(1970, 1, 1)).total_seconds() * 1000)
    return (utc - datetime.timedelta(minutes=offset)).strftime('%m/%d/%Y %H:%M:%S')


def from_browser_time(page, text):
    local = datetime.datetime.strptime(text, '%m/%d/%Y %H:%M:%S')
    offset = page.evaluate('(ms) => new Date(ms).getTimezoneOffset()',
                           (local - datetime.datetime(1970, 1, 1)).total_seconds() * 1000)
    return local + datetime.timedelta(minutes=offset)


def set_datetime(dialog, name, text):
    field = dialog.locator('.o_field_widget[name=%s] input' % name)
    field.fill(text)
    field.press('Enter')
    field.evaluate('el => el.dispatchEvent(new Event("change", {bubbles: true}))')


def test_the_wizard_replays_a_period_with_the_original_event_ids(odoo_server, page, admin_rpc):
    db = odoo_server.database
    callback_id = make_callback(admin_rpc, 'Replay (browser)')
    try:
        failed = add_deliveries(db, callback_id, [('2026-02-01 10:00:00', 'failed'),
                                                  ('2026-02-01 12:30:00', 'failed')])
        left = add_deliveries(db, callback_id, [('2026-01-31 09:00:00', 'failed'),  # before the period
                                                ('2026-02-01 13:00:00', 'done')])  # not a chosen state
        dialog = open_replay_dialog(page, odoo_server.url, callback_id)
        # the defaults: this callback, the last 24 hours, failed deliveries only
        assert dialog.locator('.o_field_widget[name=callback_id] input').input_value() == 'Replay (browser)'
        start = from_browser_time(page, dialog.locator('.o_field_widget[name=date_from] input').input_value())
        end = from_browser_time(page, dialog.locator('.o_field_widget[name=date_to] input').input_value())
        assert end - start == datetime.timedelta(hours=24)
        assert abs((end - datetime.datetime.utcnow()).total_seconds()) < 120
        assert dialog.locator('.o_field_widget[name=replay_failed] input').is_checked()
        assert not dialog.locator('.o_field_widget[name=replay_done] input').is_checked()
        # a period of 1 February, 08:00 to 14:00 UTC
        set_datetime(dialog, 'date_from', to_browser_time(page, datetime.datetime(2026, 2, 1, 8)))
        set_datetime(dialog, 'date_to', to_browser_time(page, datetime.datetime(2026, 2, 1, 14)))
        page.wait_for_function("document.querySelector('%s .o_field_widget[name=match_count]').innerText.trim() "
                               "=== '2'" % DIALOG, timeout=15000)
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, 'replay-dialog.png'))
        dialog.locator('.modal-footer button:has-text("Replay")').click()
        page.wait_for_selector('.modal-title:has-text("Replay: 2 deliveries will be resent")', timeout=15000)
        page.screenshot(path=os.path.join(ARTIFACTS, 'replay-asked.png'))
        [replay] = admin_rpc('webhook.replay', 'search_read', [['callback_id', '=', callback_id]],
                             fields=['state', 'total', 'date_from', 'date_to', 'replay_failed', 'replay_done'])
        assert (replay['state'], replay['total'], replay['date_from'], replay['date_to']) == \
            ('running', 2, '2026-02-01 08:00:00', '2026-02-01 14:00:00')
        assert 'Replay: 0 of 2 deliveries queued again' in page.inner_text(DIALOG)
        assert states(db, failed) == [('failed', True)] * 2  # nothing sent from the request itself
        # the replay cron, as its Run Manually button runs it
        admin_rpc('ir.cron', 'method_direct_trigger', [admin_rpc.ref('account_webhook.ir_cron_webhook_replay')])
        assert states(db, failed) == [('pending', True)] * 2  # queued again, with their event ids
        assert states(db, left) == [('failed', True), ('done', True)]
        [replay] = admin_rpc('webhook.replay', 'read', [replay['id']], fields=['state', 'count'])
        assert (replay['state'], replay['count']) == ('done', 2)
        page.locator('.modal-footer button:has-text("Close")').click()
        page.wait_for_selector(DIALOG, state='detached', timeout=15000)
        assert page.js_errors == []
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])


def test_an_end_before_the_start_is_refused_in_the_dialog(odoo_server, page, admin_rpc):
    db = odoo_server.database
    callback_id = make_callback(admin_rpc, 'Replay refused (browser)')
    try:
        failed = add_deliveries(db, callback_id, [('2026-02-01 10:00:00', 'failed')])
        dialog = open_replay_dialog(page, odoo_server.url, callback_id)
        set_datetime(dialog, 'date_from', to_browser_time(page, datetime.datetime(2026, 2, 1, 14)))
        set_datetime(dialog, 'date_to', to_browser_time(page, datetime.datetime(2026, 2, 1, 8)))
        dialog.locator('.modal-footer button:has-text("Replay")').click()
        error = page.wait_for_selector('.modal-dialog:has-text("is before its start")', timeout=15000)
        assert 'Replay: the end of the period (2026-02-01 08:00:00 UTC) is before its start ' \
               '(2026-02-01 14:00:00 UTC).' in error.inner_text()
        assert admin_rpc('webhook.replay', 'search_count', [['callback_id', '=', callback_id]]) == 0
        assert states(db, failed) == [('failed', True)]
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])


def test_over_xmlrpc_create_then_action_replay(odoo_server, admin_rpc):
    db = odoo_server.database
    callback_id = make_callback(admin_rpc, 'Replay (XML-RPC)')
    try:
        failed = add_deliveries(db, callback_id, [('2026-02-01 10:00:00', 'failed')])
        with pytest.raises(xmlrpc.client.Fault) as refused:
            admin_rpc('webhook.replay', 'create', {'callback_id': callback_id, 'date_from': '2026-02-02 00:00:00',
                                                   'date_to': '2026-02-03 00:00:00'})
        assert 'No deliveries of Replay (XML-RPC) recorded between 2026-02-02 00:00:00 and 2026-02-03 00:00:00 ' \
               'UTC in the states Failed: nothing to replay.' in refused.value.faultString
        replay_id = admin_rpc('webhook.replay', 'create', {
            'callback_id': callback_id, 'date_from': '2026-02-01 00:00:00', 'date_to': '2026-02-02 00:00:00'})
        action = admin_rpc('webhook.replay', 'action_replay', [replay_id])
        assert (action['res_model'], action['res_id']) == ('webhook.replay', replay_id)
        [replay] = admin_rpc('webhook.replay', 'read', [replay_id], fields=['state', 'total', 'progress'])
        assert (replay['state'], replay['total'], replay['progress']) == \
            ('running', 1, 'Replay: 0 of 1 deliveries queued again')
        admin_rpc('ir.cron', 'method_direct_trigger', [admin_rpc.ref('account_webhook.ir_cron_webhook_replay')])
        assert states(db, failed) == [('pending', True)]
        messages = admin_rpc('mail.message', 'search_read', [['model', '=', 'webhook.callback'],
                                                             ['res_id', '=', callback_id]], fields=['body'])
        bodies = ' '.join(m['body'] for m in messages)
        assert 'Replay of 1 deliveries recorded between 2026-02-01 00:00:00 and 2026-02-02 00:00:00 UTC ' \
               '(Failed) asked.' in bodies
        assert 'Replay done: 1 deliveries queued again.' in bodies
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])
