# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Receivers that are someone else's API, end to end: callbacks shaped for the example invoice item
API (examples/invoice_item_api.py) on 127.0.0.1, the real engine in a thread of this process,
committed data removed afterwards. An invoice's create, update and delete in order with the id the
API gave, a refusal answered 200 that fails and alerts, the receiver's id over XML-RPC, and a
thousand events in batches to a throttled API."""
import collections
import time
import uuid
import xmlrpc.client

import pytest

from .test_dispatch import RunningEngine, env, make_callback  # noqa: F401 (fixtures)
from .test_example_api import API_KEY, api, example  # noqa: F401 (api: a fixture)

SUCCESSFUL = 'status == "successful"'


def api_callback(env, api, **vals):  # noqa: F811
    """A callback posting to the example API with its key."""
    return make_callback(env, api, **dict({'headers': 'Apikey: %s' % API_KEY}, **vals))


def wait_until(env, condition, timeout, what, describe=None):  # noqa: F811
    """Poll ``condition()`` (in a fresh snapshot of the database each time) until true or ``timeout``;
    ``describe()`` says what there was instead."""
    deadline = time.time() + timeout
    while True:
        env.cr.rollback()  # Odoo cursors are REPEATABLE READ: see what the engine committed
        env.cache.invalidate()
        value = condition()
        if value:
            return value
        assert time.time() < deadline, 'timed out after %s s waiting for %s%s' % (
            timeout, what, ': %s' % (describe(),) if describe else '')
        time.sleep(0.1)


def deliveries_of(env, callbacks):  # noqa: F811
    return env['webhook.delivery'].search([('callback_id', 'in', callbacks.ids)], order='id')


def all_done(env, callbacks, count):  # noqa: F811
    deliveries = deliveries_of(env, callbacks)
    return len(deliveries) == count and set(deliveries.mapped('state')) == {'done'} and deliveries


def outcomes(rows):
    """How many deliveries (or API requests) ended how."""
    return collections.Counter((row.state, row.attempt_count, row.last_error) if hasattr(row, 'state') else
                               (row['code'], row['status'], len(row['body'])) for row in rows)


def settled(env, callbacks, count):  # noqa: F811
    """The deliveries once there are ``count`` and none is waiting (done, failed or waiting for a retry)."""
    deliveries = deliveries_of(env, callbacks)
    return len(deliveries) == count and all(
        d.state == 'done' or d.state == 'failed' or (d.state == 'pending' and d.attempt_count) for d in deliveries) \
        and deliveries


def invoice_accounts(env):  # noqa: F811
    """The receivable and income accounts of the main company (the test database has a chart)."""
    company = env.ref('base.main_company')

    def account(kind):
        found = env['account.account'].search(
            [('user_type_id', '=', env.ref(kind).id), ('company_id', '=', company.id)], limit=1)
        assert found, 'the test database has no %s account (scripts/setup.sh test installs a chart)' % kind
        return found
    assert env['account.journal'].search([('type', '=', 'sale'), ('company_id', '=', company.id)], limit=1)
    return account('account.data_account_type_receivable'), account('account.data_account_type_revenue')


def test_an_invoice_created_updated_and_deleted_reaches_the_api_in_order(env, api):  # noqa: F811
    receivable, income = invoice_accounts(env)
    common = dict(model='account.invoice', url=api.url)
    create = api_callback(
        env, api, name='API item create', action='create', field_names=['partner_id', 'amount_total'],
        path_template='/CreateInvoiceItem/{id}', receiver_id_path='data.id', answer_rule=SUCCESSFUL,
        answer_message_path='message',
        body_template='{"description": "Odoo invoice %s (customer %s)" % (id, values["partner_id"]), '
                      '"amount": values["amount_total"], "quantity": 1}', **common)
    update = api_callback(
        env, api, name='API item update', action='update', field_names=['name', 'amount_total'], method='PUT',
        path_template='/UpdateInvoiceItem/{receiver_id}', answer_rule=SUCCESSFUL, answer_message_path='message',
        body_template='{"description": values["name"], "amount": values["amount_total"]}', **common)
    delete = api_callback(
        env, api, name='API item delete', action='delete', field_names=['name'], method='DELETE',
        path_template='/DeleteInvoiceItem/{receiver_id}', answer_rule=SUCCESSFUL, answer_message_path='message',
        **common)
    callbacks = create | update | delete
    partner = env['res.partner'].create({'name': 'API receivers customer'})
    env.cr.commit()
    invoice, engine = env['account.invoice'], None
    try:
        invoice = env['account.invoice'].create({
            'partner_id': partner.id, 'account_id': receivable.id, 'type': 'out_invoice',
            'invoice_line_ids': [(0, 0, {'name': 'Consulting', 'quantity': 2, 'price_unit': 150.0,
                                         'account_id': income.id})]})
        invoice_id = invoice.id
        env.cr.commit()
        invoice.write({'name': 'Updated reference'})
        env.cr.commit()
        invoice.unlink()
        env.cr.commit()
        # all three wait in the outbox before any is sent: without per-record order the update and the
        # delete would go with the create, before the API gave the id their paths need
        assert [d.operation for d in deliveries_of(env, callbacks)] == ['create', 'update', 'delete']
        engine = RunningEngine(env.cr.dbname)
        deliveries = wait_until(env, lambda: settled(env, callbacks, 3), 20, 'three deliveries sent')
        assert [(d.callback_id, d.state, d.attempt_count, d.last_error) for d in deliveries] == [
            (create, 'done', 1, False), (update, 'done', 1, False), (delete, 'done', 1, False)]
        calls = [(r['method'], r['path'], r['code'], r['status']) for r in api.requests]
        assert calls == [('POST', '/api/Billing/CreateInvoiceItem/%d' % invoice_id, 200, 'successful'),
                         ('PUT', '/api/Billing/UpdateInvoiceItem/572', 200, 'successful'),
                         ('DELETE', '/api/Billing/DeleteInvoiceItem/572', 200, 'successful')], calls
        created, updated = api.requests[0]['body'], api.requests[1]['body']
        assert created == {'description': 'Odoo invoice %d (customer %d)' % (invoice_id, partner.id),
                           'amount': 300.0, 'quantity': 1}
        assert updated == {'description': 'Updated reference', 'amount': 300.0}
        assert api.items == [], 'the item was deleted'
        assert deliveries.mapped('receiver_id') == ['572'] * 3  # given by the create, used by the others
        ref = env['webhook.receiver.ref'].search([('res_model', '=', 'account.invoice'), ('res_id', '=', invoice_id)])
        assert (ref.callback_id, ref.receiver_id) == (create, '572')
    finally:
        if engine is not None:
            engine.stop()
        env.cr.rollback()
        invoice.exists().unlink()
        partner.unlink()
        env.cr.commit()


def test_a_refusal_is_a_failure_with_the_apis_message_and_alerts_after_the_usual_delay(env, api):  # noqa: F811
    env.set_params(retry_schedule='1,3600')  # a second attempt within seconds, then none during the test
    callback = api_callback(
        env, api, name='API refusing', path_template='/CreateInvoiceItem/{id}', answer_rule=SUCCESSFUL,
        answer_message_path='message', receiver_id_path='data.id', body_template='{"amount": 1}')
    partner = env['res.partner'].create({'name': 'API receivers refused'})
    env.cr.commit()
    engine = RunningEngine(env.cr.dbname)
    try:
        [delivery] = wait_until(env, lambda: deliveries_of(env, callback).filtered(lambda d: d.attempt_count >= 2),
                                20, 'two refused attempts')
    finally:
        engine.stop()
    try:
        env.cr.rollback()
        env.cache.invalidate()
        refusal = 'refused by the receiver: description is required (a non-empty string)'
        assert (delivery.state, delivery.attempt_count, delivery.last_status_code) == ('pending', 2, 200)
        assert delivery.last_error == refusal
        assert [(a.success, a.status_code, a.error) for a in delivery.attempt_ids] == [(False, 200, refusal)] * 2
        assert not delivery.receiver_id
        assert [(r['code'], r['status']) for r in api.requests] == [(200, 'error')] * 2
        assert api.items == []
        env.cr.execute('SELECT count(*) FROM webhook_endpoint WHERE consecutive_failures > 0')
        assert env.cr.fetchone()[0] == 0, 'the API answered: no endpoint failure'

        subtype = env.ref('account_webhook.mt_callback_alert')

        def alerts():
            callback.invalidate_cache()
            return callback.message_ids.filtered(lambda message: message.subtype_id == subtype)
        Callback = env['webhook.callback']
        Callback._check_alerts()
        assert not alerts(), 'refused for seconds only'
        env.cr.execute("""UPDATE webhook_delivery_attempt SET attempted_at = attempted_at - interval '61 minutes'
                           WHERE id = %s""", (delivery.attempt_ids.sorted('id')[0].id,))
        Callback._check_alerts()
        Callback._check_alerts()
        [alert] = alerts()
        assert alert.subject == 'Callback API refusing failing'
        assert refusal in alert.body, alert.body
    finally:
        env.cr.rollback()  # the alerts and their mails (of other tests' callbacks too) are not kept
        partner.unlink()
        env.cr.commit()


def test_the_receivers_id_is_readable_over_xmlrpc(env, api, admin_rpc, accountant_rpc):  # noqa: F811
    callback = api_callback(
        env, api, name='API ids', path_template='/CreateInvoiceItem/{id}', answer_rule=SUCCESSFUL,
        receiver_id_path='data.id', body_template='{"description": values["name"], "amount": 1}')
    partner = env['res.partner'].create({'name': 'API receivers id %s' % uuid.uuid4().hex[:8]})
    env.cr.commit()
    engine = RunningEngine(env.cr.dbname)
    try:
        wait_until(env, lambda: all_done(env, callback, 1), 20, 'the create delivered')
        domain = [['res_model', '=', 'res.partner'], ['res_id', '=', partner.id]]
        refs = admin_rpc('webhook.receiver.ref', 'search_read', domain,
                         fields=['callback_id', 'res_model', 'res_id', 'receiver_id'])
        assert [(r['callback_id'][0], r['res_model'], r['res_id'], r['receiver_id']) for r in refs] == [
            (callback.id, 'res.partner', partner.id, '572')]
        assert api.items[0]['description'] == partner.name
        for call in (lambda: accountant_rpc('webhook.receiver.ref', 'search_read', domain, fields=['receiver_id']),
                     lambda: accountant_rpc('webhook.receiver.ref', 'read', [refs[0]['id']], fields=['receiver_id'])):
            with pytest.raises(xmlrpc.client.Fault) as fault:
                call()
            assert 'AccessError' in fault.value.faultString or 'not allowed' in fault.value.faultString
            assert '572' not in fault.value.faultString
    finally:
        engine.stop()
        env.cr.rollback()
        partner.unlink()
        env.cr.commit()


def insert_contacts(cr, names):
    """Contacts written straight into the table (an Odoo 11 contact takes about 90 queries to create;
    what matters here is their changes, made through the ORM); their ids."""
    cr.execute("""
        INSERT INTO res_partner (name, display_name, active, is_company, type, invoice_warn, customer, supplier,
                                 employee, create_uid, write_uid, create_date, write_date)
        SELECT n, n, true, false, 'contact', 'no-message', true, false, false, 1, 1, now() at time zone 'UTC',
               now() at time zone 'UTC'
          FROM unnest(%s::varchar[]) n RETURNING id""", (list(names),))
    return sorted(row[0] for row in cr.fetchall())


def test_a_thousand_events_to_a_throttled_api_go_in_batches(env):  # noqa: F811
    api = example.InvoiceItemApi(API_KEY, rate_limit=100, rate_window=60).start()  # noqa: F811
    engine = None
    token = uuid.uuid4().hex[:8]
    batch = dict(path_template='/CreateInvoiceItems/1', batch_size=100, rate_limit=100, answer_rule=SUCCESSFUL,
                 answer_message_path='message')
    partners = env['res.partner']
    try:
        # a thousand contacts renamed in one transaction: a thousand events of this callback at once
        create = api_callback(env, api, name='API batches', action='update', field_names=['name'], **dict(
            batch, body_template='[{"description": e["values"]["name"], "amount": 1} for e in events]'))
        # a second callback of the same URL: a contact's update never overtakes its create's batch
        update = api_callback(env, api, name='API batch updates', action='update', field_names=['email'], **dict(
            batch, body_template='[{"description": "update " + e["values"]["email"], "amount": 2} for e in events]'))
        partners = partners.browse(insert_contacts(env.cr, ['Batch %s %04d' % (token, i) for i in range(1000)]))
        env.cr.commit()
        for partner in partners.with_context(tracking_disable=True):
            partner.name = partner.name + ' renamed'
        env.cr.commit()
        updated = partners[::100]  # one contact of each batch of renames
        for partner in updated:
            partner.email = '%s@example.com' % partner.name.replace(' ', '-')
        env.cr.commit()
        engine = RunningEngine(env.cr.dbname)
        count = len(partners) + len(updated)
        # one request per event would take ten minutes at 100 calls a minute
        deliveries = wait_until(env, lambda: all_done(env, create | update, count), 60, '1,010 deliveries done',
                                lambda: (outcomes(deliveries_of(env, create | update)), outcomes(api.requests)))
        requests = api.requests
        assert [(r['code'], r['status']) for r in requests] == [(200, 'successful')] * len(requests), \
            'no 429, no refusal'
        creates = [r for r in requests if r['body'][0]['amount'] == 1]
        updates = [r for r in requests if r['body'][0]['amount'] == 2]
        assert len(creates) + len(updates) == len(requests)
        assert len(creates) <= 10 and all(len(r['body']) <= 100 for r in creates), [len(r['body']) for r in creates]
        # updates wait for their create's batch: they may go in more than one request
        assert sorted(item['description'] for r in updates for item in r['body']) == sorted(
            'update ' + email for email in updated.mapped('email')), 'each update exactly once'
        descriptions = [item['description'] for r in creates for item in r['body']]
        assert sorted(descriptions) == sorted(partners.mapped('name')), 'each create exactly once'
        assert len(api.items) == count
        # per record: the update after the request that carried the create
        position = {item['description']: index for index, r in enumerate(requests) for item in r['body']}
        for partner in updated:
            assert position[partner.name] < position['update ' + partner.email], partner.name
        # each delivery done with one attempt, whose request_size is the size of its request
        size_of = {item['description']: len(r['body']) for r in requests for item in r['body']}
        for delivery in deliveries:
            partner, attempt = partners.browse(delivery.res_id), delivery.attempt_ids
            description = 'update ' + partner.email if delivery.callback_id == update else partner.name
            assert (delivery.attempt_count, len(attempt), attempt.success) == (1, 1, True), delivery.id
            assert attempt.request_size == size_of[description], (delivery.id, attempt.request_size)
    finally:
        if engine is not None:
            engine.stop()
        api.close()
        env.cr.rollback()
        env['webhook.callback'].browse(env.made).exists().unlink()  # no delete events of the contacts
        partners.exists().unlink()
        env.cr.commit()

