# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The integrator's journey, over XML-RPC only, against a running Odoo (dispatcher and cron on),
with a receiver started by the test: what arrives is each event exactly once, in order per
record, signed, with values matching what a read returns."""
import time
import xmlrpc.client

import pytest
from standardwebhooks.webhooks import Webhook

from odoo.addons.account_webhook.tests.receiver import Receiver

from .conftest import Rpc

INVOICE_FIELDS = ['partner_id', 'state', 'invoice_line_ids']
CONTACT_FIELDS = ['name', 'email']


@pytest.fixture(scope='module')
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope='module')
def integrator(product_server, receiver):
    rpc = Rpc(product_server.url, product_server.database, 'admin', 'admin')
    rpc('ir.config_parameter', 'set_param', 'account_webhook.allowed_targets', '127.0.0.1')
    others = rpc('webhook.callback', 'search', [])
    rpc('webhook.callback', 'write', others, {'active': False})  # only this journey's callbacks
    rpc.callbacks = {}
    for model, fields in (('account.invoice', INVOICE_FIELDS), ('res.partner', CONTACT_FIELDS)):
        for action in ('create', 'update', 'delete'):
            rpc.callbacks[(model, action)] = rpc('webhook.callback', 'create', {
                'name': 'journey %s %s' % (model, action), 'model': model, 'action': action,
                'field_names': fields, 'url': receiver.url})
    yield rpc
    rpc('webhook.callback', 'unlink', list(rpc.callbacks.values()))
    rpc('webhook.callback', 'write', others, {'active': True})
    rpc('ir.config_parameter', 'set_param', 'account_webhook.allowed_targets', '')


def wait_quiet(receiver, count, timeout=20):
    """Wait for ``count`` requests, then make sure no more arrive."""
    receiver.wait_for(count, timeout)
    time.sleep(1.5)
    return list(receiver.received)


def events_of(received, model, res_id):
    return [(r.json['operation'], r.json.get('changed')) for r in received
            if r.json['object'] == model and r.json['id'] == res_id]


def test_integrator_journey(integrator, receiver):
    rpc = integrator
    accounts = {}
    for kind in ('receivable', 'revenue'):
        accounts[kind] = rpc('account.account', 'search',
                             [['user_type_id', '=', rpc.ref('account.data_account_type_%s' % kind)]], limit=1)[0]

    # contacts
    contact = rpc('res.partner', 'create', {'name': 'Integrator Customer', 'email': 'old@example.com'})
    rpc('res.partner', 'write', [contact], {'email': 'new@example.com'})
    rpc('res.partner', 'write', [contact], {'comment': 'untracked field: no event'})

    # a draft invoice with two lines; a third line added as a CreateInvoiceItem call would
    line = {'quantity': 1, 'account_id': accounts['revenue']}
    invoice = rpc('account.invoice', 'create', {
        'partner_id': contact, 'account_id': accounts['receivable'], 'type': 'out_invoice',
        'invoice_line_ids': [(0, 0, dict(line, name='Consulting', price_unit=300.0)),
                             (0, 0, dict(line, name='Travel', price_unit=40.0))]})
    third = rpc('account.invoice.line', 'create', dict(line, invoice_id=invoice, name='Extra item', price_unit=60.0))
    first_line = rpc('account.invoice', 'read', [invoice], fields=['invoice_line_ids'])[0]['invoice_line_ids'][0]
    rpc('account.invoice', 'write', [invoice], {'invoice_line_ids': [(2, first_line)]})  # removes a line
    rpc('account.invoice', 'action_invoice_open', [invoice])

    # a full payment
    [invoice_data] = rpc('account.invoice', 'read', [invoice], fields=['residual'])
    journal = rpc('account.journal', 'search', [['type', '=', 'bank']], limit=1)[0]
    payment = rpc('account.payment', 'create', {
        'payment_type': 'inbound', 'partner_type': 'customer', 'partner_id': contact,
        'amount': invoice_data['residual'], 'journal_id': journal,
        'payment_method_id': rpc.ref('account.account_payment_method_manual_in'),
        'invoice_ids': [(6, 0, [invoice])]})
    rpc('account.payment', 'post', [payment])

    # Odoo refuses to delete the validated invoice: a clear fault, no event
    with pytest.raises(xmlrpc.client.Fault) as refused:
        rpc('account.invoice', 'unlink', [invoice])
    assert 'cannot delete an invoice which is not draft or cancelled' in refused.value.faultString

    # a second draft invoice, created and deleted
    second = rpc('account.invoice', 'create', {'partner_id': contact, 'account_id': accounts['receivable'],
                                               'invoice_line_ids': [(0, 0, dict(line, name='Tmp', price_unit=1.0))]})
    rpc('account.invoice', 'unlink', [second])

    # a contact without documents can be deleted
    gone = rpc('res.partner', 'create', {'name': 'Short-lived Contact', 'email': 'gone@example.com'})
    rpc('res.partner', 'unlink', [gone])

    received = wait_quiet(receiver, 11)

    # every event exactly once, in order per record
    assert len({r.headers['webhook-id'] for r in received}) == len(received)
    assert events_of(received, 'res.partner', contact) == [('create', None), ('update', ['email'])]
    assert events_of(received, 'account.invoice', invoice) == [
        ('create', None), ('update', ['invoice_line_ids']), ('update', ['invoice_line_ids']),
        ('update', ['state']), ('update', ['state'])]
    assert events_of(received, 'account.invoice', second) == [('create', None), ('delete', None)]
    assert events_of(received, 'res.partner', gone) == [('create', None), ('delete', None)]
    assert len(received) == 11

    # each signature verifies with its callback's key
    keys = {cb['id']: cb['key'] for cb in rpc('webhook.callback', 'read', list(rpc.callbacks.values()),
                                                fields=['key'])}
    for request in received:
        signatures = [Webhook(key) for key in keys.values()]
        assert any(_verifies(webhook, request) for webhook in signatures), request.json

    # values match what a read over XML-RPC returns
    last_invoice = [r.json for r in received if r.json['object'] == 'account.invoice' and r.json['id'] == invoice][-1]
    [current] = rpc('account.invoice', 'read', [invoice], fields=INVOICE_FIELDS)
    assert last_invoice['values']['state'] == current['state'] == 'paid'
    assert last_invoice['values']['partner_id'] == current['partner_id'][0]
    assert [line['id'] for line in last_invoice['values']['invoice_line_ids']] == current['invoice_line_ids']
    assert third in current['invoice_line_ids'] and first_line not in current['invoice_line_ids']
    last_contact = [r.json for r in received if r.json['object'] == 'res.partner' and r.json['id'] == contact][-1]
    [contact_now] = rpc('res.partner', 'read', [contact], fields=CONTACT_FIELDS)
    assert last_contact['values'] == {'email': contact_now['email'], 'name': contact_now['name']}

    # the delivery actions over XML-RPC: a test event, and a resend with the same webhook-id
    receiver.reset()
    action = rpc('webhook.callback', 'action_send_test_event', [rpc.callbacks[('res.partner', 'update')]])
    [ping] = rpc('webhook.delivery', 'read', [action['res_id']], fields=['state', 'operation'])
    assert (ping['state'], ping['operation']) == ('done', 'ping')
    contact_updates = rpc.callbacks[('res.partner', 'update')]
    [delivered] = rpc('webhook.delivery', 'search_read', [['callback_id', '=', contact_updates],
                                                          ['operation', '=', 'update']], fields=['event_id'])
    rpc('webhook.delivery', 'action_resend', [delivered['id']])
    again = receiver.wait_for(2)
    assert again[0].json['operation'] == 'ping'
    assert again[1].headers['webhook-id'] == delivered['event_id']


def _verifies(webhook, request):
    try:
        webhook.verify(request.body, {name: request.headers[name] for name in
                                      ('webhook-id', 'webhook-timestamp', 'webhook-signature')})
        return True
    except Exception:  # noqa: BLE001 (another callback's key)
        return False


def test_an_accountant_cannot_switch_capture_off(integrator, receiver, product_server):
    """The context key that switches capture off in server code is ignored when a client sends it."""
    rpc = integrator
    receiver.reset()
    login = 'journey-accountant-%d' % product_server.port
    rpc('res.users', 'create', {'name': 'Journey accountant', 'login': login, 'password': 'accountant',
                                'email': 'accountant@example.com',
                                'groups_id': [(6, 0, [rpc.ref('account.group_account_invoice')])]})
    accountant = Rpc(product_server.url, product_server.database, login, 'accountant')
    customer, other = [rpc('res.partner', 'create', {'name': name}) for name in ('Quiet Customer', 'Bank Change')]
    receivable = rpc('account.account', 'search', [['user_type_id', '=', rpc.ref(
        'account.data_account_type_receivable')]], limit=1)[0]
    silent = {'account_webhook_no_trigger': True}
    invoice = accountant('account.invoice', 'create', {'partner_id': customer, 'account_id': receivable},
                         context=silent)
    accountant('account.invoice', 'write', [invoice], {'partner_id': other}, context=silent)
    received = wait_quiet(receiver, 4)
    assert events_of(received, 'account.invoice', invoice) == [('create', None), ('update', ['partner_id'])]
