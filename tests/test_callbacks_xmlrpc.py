# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Callback settings over XML-RPC, against a running server, as integrators use them."""
import json
import time
import xmlrpc.client

import pytest


def test_integrator_creates_a_callback_with_names_only(admin_rpc):
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'Invoices to ERP', 'model': 'account.invoice', 'action': 'update',
        'field_names': ['partner_id', 'invoice_line_ids', 'state'], 'url': 'https://erp.example.com/hooks'})
    [callback] = admin_rpc('webhook.callback', 'read', [callback_id],
                           fields=['model', 'action', 'field_ids', 'url', 'active', 'revision', 'key', 'endpoint',
                                   'max_in_flight', 'health_state', 'health'])
    assert (callback['model'], callback['action'], callback['active'], callback['revision']) == \
        ('account.invoice', 'update', True, 1)
    # where it is sent, how many at once, and the endpoint's circuit breaker, readable by integrators
    assert (callback['endpoint'], callback['max_in_flight'], callback['health_state'], callback['health']) == \
        ('https://erp.example.com:443', 0, 'healthy', 'Healthy')
    names = [f['name'] for f in admin_rpc('ir.model.fields', 'read', callback['field_ids'], fields=['name'])]
    assert sorted(names) == ['invoice_line_ids', 'partner_id', 'state']
    assert len(callback['key']) == 40
    admin_rpc('webhook.callback', 'unlink', [callback_id])


@pytest.mark.parametrize('vals, message', [
    ({'model': 'res.users', 'field_names': ['login']}, 'Record model name: res.users cannot send callbacks'),
    ({'field_names': ['email', 'nope']}, 'Fields: nope is not a field of res.partner'),
    ({'url': 'ftp://erp.example.com'}, 'Callback URL: ftp://erp.example.com must start with http:// or https://'),
    ({'url': ''}, 'Callback URL'),
    ({'headers': 'webhook-signature: v1,forged'}, 'Extra headers: webhook-signature cannot be set'),
    ({'headers': 'Host: evil.example.com'}, 'Extra headers: Host cannot be set'),
    ({'headers': 'Bad Name: x'}, 'Extra headers: "Bad Name" is not a valid header name'),
    # (XML turns a CR into a line feed on the way: a value broken in two is a line without a colon)
    ({'headers': 'Apikey: a\r\n and more'}, 'Extra headers: each line must be "Name: value"'),
    ({'filter_domain': [['nope', '=', 1]]}, 'is not a valid filter for res.partner: Invalid field'),
    ({'filter_domain': "[('is_company', '=', True"}, 'True is not a domain'),
    ({'filter_domain': 'is_company'}, 'Filter: is_company is not a domain'),
    ({'url': 'https://user:pw@erp.example.com/h'}, 'carries a user name or password; put credentials in Extra'),
    ({'url': 'https://erp.example.com/' + 'x' * 2100}, 'Callback URL: it is longer than 2048 characters'),
    ({'url': 'https://erp.example.com:0/h'}, 'the port must be from 1 to 65535'),
    ({'url': 'https://bad_host-.example.com/h'}, 'is not a valid host name'),
    ({'headers': '\n'.join('X-H%d: v' % i for i in range(21))}, 'Extra headers: at most 20 lines'),
    ({'field_names': ['email', 'signup_token']}, 'Fields: signup_token holds a secret'),
    ({'url': 'https://erp.example.com/a\tb'}, 'contains a space or a control character'),
    ({'url': 'https://erp.example.com/\u202eexe.pdf'}, 'contains a space or a control character'),
    ({'url': 'http://0x7f.1/h'}, '0x7f.1 is not a valid IPv4 address'),
    ({'url': 'http://[::1/h'}, 'is not a valid URL'),
    ({'url': 'mailto:erp@example.com'}, 'must start with http:// or https://'),
    ({'headers': 'X-Big: ' + 'a' * 4100}, 'Extra headers: the line of X-Big is longer than 4096 characters'),
    ({'headers': 'X-Name: Jonas Petraitis\u0117'}, 'Extra headers: the value of X-Name must be printable ASCII'),
])
def test_bad_input_is_a_clear_fault_and_saves_nothing(admin_rpc, vals, message):
    values = {'name': 'rejected-callback', 'model': 'res.partner', 'action': 'update',
              'field_names': ['email'], 'url': 'https://erp.example.com/hooks'}
    values.update(vals)
    with pytest.raises(xmlrpc.client.Fault) as fault:
        admin_rpc('webhook.callback', 'create', values)
    assert message in fault.value.faultString
    assert admin_rpc('webhook.callback', 'search_count', [['name', '=', 'rejected-callback']]) == 0


def test_accountant_cannot_read_callbacks_or_their_keys(admin_rpc, accountant_rpc):
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'secret', 'model': 'res.partner', 'action': 'create', 'url': 'https://erp.example.com/h'})
    try:
        for call in (lambda: accountant_rpc('webhook.callback', 'search_read', [], fields=['name']),
                     lambda: accountant_rpc('webhook.callback', 'read', [callback_id], fields=['key']),
                     lambda: accountant_rpc('webhook.delivery', 'search_read', [], fields=['payload'])):
            with pytest.raises(xmlrpc.client.Fault) as fault:
                call()
            assert 'AccessError' in fault.value.faultString or 'not allowed' in fault.value.faultString
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])


def test_integrator_sets_headers_and_a_filter(admin_rpc):
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'Customer invoices to ERP', 'model': 'account.invoice', 'action': 'create',
        'field_names': ['state'], 'url': 'https://erp.example.com/hooks',
        'headers': 'Authorization: Bearer abc\nApikey: k-1', 'filter_domain': [['type', '=', 'out_invoice']]})
    try:
        [callback] = admin_rpc('webhook.callback', 'read', [callback_id], fields=['headers', 'filter_domain'])
        assert callback == {'id': callback_id, 'headers': 'Authorization: Bearer abc\nApikey: k-1',
                            'filter_domain': "[('type', '=', 'out_invoice')]"}
        admin_rpc('webhook.callback', 'write', [callback_id], {'filter_domain': "[('type', 'in', ['out_invoice'])]"})
        [callback] = admin_rpc('webhook.callback', 'read', [callback_id], fields=['filter_domain'])
        assert callback['filter_domain'] == "[('type', 'in', ['out_invoice'])]"
        with pytest.raises(xmlrpc.client.Fault) as fault:
            admin_rpc('webhook.callback', 'write', [callback_id], {'filter_domain': [['is_company', '=', True]]})
        assert 'is not a valid filter for account.invoice' in fault.value.faultString
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])


def test_accountant_cannot_read_the_headers(admin_rpc, accountant_rpc):
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'with headers', 'model': 'res.partner', 'action': 'create', 'url': 'https://erp.example.com/h',
        'headers': 'Apikey: secret-k'})
    try:
        with pytest.raises(xmlrpc.client.Fault) as fault:
            accountant_rpc('webhook.callback', 'read', [callback_id], fields=['headers'])
        assert 'AccessError' in fault.value.faultString or 'not allowed' in fault.value.faultString
        assert 'secret-k' not in fault.value.faultString
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])


def run_backfill_cron(odoo_db):
    """The backfill cron, as a cron worker runs it (this test server runs no cron): in this process,
    on a cursor of its own whose batches are committed."""
    import odoo
    with odoo.api.Environment.manage(), odoo.registry(odoo_db).cursor() as cr:
        return odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})['webhook.callback']._cron_backfill()


def test_integrator_backfills_the_existing_records_that_match(admin_rpc, odoo_db):
    partner_ids = [admin_rpc('res.partner', 'create', {'name': 'Backfill RPC %d' % i, 'is_company': i % 2 == 0})
                   for i in range(5)]
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'backfill over rpc', 'model': 'res.partner', 'action': 'update', 'field_names': ['name'],
        'url': 'https://erp.example.com/h', 'active': True,
        'filter_domain': [['name', 'like', 'Backfill RPC'], ['is_company', '=', True]]})
    progress = ['backfill_state', 'backfill_total', 'backfill_count', 'backfill_progress', 'backfill_done_at']
    try:
        # asked: returns at once; it starts within seconds of the commit, not at the cron's next poll
        # (this test server runs no cron); the progress is on the callback
        asked = time.monotonic()
        assert admin_rpc('webhook.callback', 'action_backfill', [callback_id], batch_size=2) is True
        [callback] = admin_rpc('webhook.callback', 'read', [callback_id], fields=progress)
        assert callback['backfill_total'] == 3
        while callback['backfill_state'] != 'done' and time.monotonic() - asked < 10:
            time.sleep(0.2)
            [callback] = admin_rpc('webhook.callback', 'read', [callback_id], fields=progress)
        assert time.monotonic() - asked < 10, 'the backfill did not start within seconds'
        assert run_backfill_cron(odoo_db) == 0  # nothing left for the cron
        assert (callback['backfill_state'], callback['backfill_count']) == ('done', 3)
        assert callback['backfill_progress'] == \
            'Backfill done: 3 records queued on %s UTC' % callback['backfill_done_at']
        deliveries = admin_rpc('webhook.delivery', 'search_read', [['callback_id', '=', callback_id]],
                               fields=['res_id', 'operation', 'payload'], order='id')
        assert [d['res_id'] for d in deliveries] == partner_ids[0::2]
        assert all(d['operation'] == 'create' and json.loads(d['payload'])['backfill'] is True for d in deliveries)
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])
        admin_rpc('res.partner', 'unlink', partner_ids)


def test_deliveries_are_read_only_but_for_their_buttons(admin_rpc):
    """Odoo 11's admin is the superuser, whom access rights do not stop: the deliveries refuse
    create, write and copy themselves; Resend (done or failed ones) and delete remain."""
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'read-only deliveries', 'model': 'res.partner', 'action': 'create',
        'url': 'https://erp.example.com/hooks'})
    partner = admin_rpc('res.partner', 'create', {'name': 'Read-only delivery'})
    try:
        [delivery] = admin_rpc('webhook.delivery', 'search_read', [['callback_id', '=', callback_id]],
                               fields=['payload', 'state', 'event_id'])
        for call in (lambda: admin_rpc('webhook.delivery', 'write', [delivery['id']], {'payload': '{"forged": 1}'}),
                     lambda: admin_rpc('webhook.delivery', 'write', [delivery['id']], {'callback_id': callback_id}),
                     lambda: admin_rpc('webhook.delivery', 'create', {
                         'callback_id': callback_id, 'event_id': 'forged', 'res_model': 'res.partner',
                         'res_id': partner, 'operation': 'create', 'payload': '{}'}),
                     lambda: admin_rpc('webhook.delivery', 'copy', delivery['id']),
                     lambda: admin_rpc('webhook.delivery.attempt', 'create', {
                         'delivery_id': delivery['id'], 'callback_id': callback_id}),
                     lambda: admin_rpc('webhook.endpoint', 'create', {'name': 'https://erp.example.com:443'})):
            with pytest.raises(xmlrpc.client.Fault) as fault:
                call()
            assert 'are written by the callbacks only' in fault.value.faultString
        with pytest.raises(xmlrpc.client.Fault) as fault:  # pending: it goes out anyway
            admin_rpc('webhook.delivery', 'action_resend', [delivery['id']])
        assert 'only delivered and failed deliveries can be sent again' in fault.value.faultString
        assert admin_rpc('webhook.delivery', 'search_read', [['id', '=', delivery['id']]],
                         fields=['payload', 'state', 'event_id']) == [delivery]
        assert admin_rpc('webhook.delivery', 'search_count', [['event_id', '=', 'forged']]) == 0
        admin_rpc('webhook.delivery', 'unlink', [delivery['id']])
        assert admin_rpc('webhook.delivery', 'search_count', [['id', '=', delivery['id']]]) == 0
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])
        admin_rpc('res.partner', 'unlink', [partner])


@pytest.mark.parametrize('name, value, bounds', [
    ('timeout_total', 'nan', 'a number of seconds from 0.1 to 3600'),
    ('concurrency', '-4', 'a whole number of requests from 1 to 1024'),
    ('retry_schedule', '5,later', 'from 1 to 50 numbers of seconds from 0 to 604800'),
    ('breaker_cooldown', '1e999', 'a number of seconds from 1 to 86400'),
    ('key_overlap_hours', 'inf', 'a number of hours from 0.01 to 8760'),
    ('allowed_targets', '10.0.0.0/8;erp', 'host names, IP addresses or networks (such as 10.0.0.0/8), separated by'),
    # a long label that is not one: refused at once (a pattern over the whole name took minutes)
    ('allowed_targets', 'erp.' + 'a' * 60 + '!', 'host names, IP addresses or networks (such as 10.0.0.0/8)'),
    ('capture_disabled', 'maybe', 'one of 1, true, yes, on, 0, false, no, off'),
])
def test_a_bad_system_parameter_is_a_clear_fault_and_saves_nothing(admin_rpc, name, value, bounds):
    key = 'account_webhook.' + name
    before = admin_rpc('ir.config_parameter', 'get_param', key)
    with pytest.raises(xmlrpc.client.Fault) as fault:
        admin_rpc('ir.config_parameter', 'set_param', key, value)
    assert 'The system parameter %s cannot be "%s": it must be %s' % (key, value, bounds) in fault.value.faultString
    assert admin_rpc('ir.config_parameter', 'get_param', key) == before


def test_a_bad_system_parameter_record_is_refused_on_create_and_write(admin_rpc):
    key = 'account_webhook.lease_seconds'
    existing = admin_rpc('ir.config_parameter', 'search_read', [['key', '=', key]], ['value'])
    if not existing:
        with pytest.raises(xmlrpc.client.Fault) as fault:
            admin_rpc('ir.config_parameter', 'create', {'key': key, 'value': '-1'})
        assert 'The system parameter %s cannot be "-1": it must be a number of seconds from 1 to 86400' % key \
            in fault.value.faultString
        assert not admin_rpc('ir.config_parameter', 'search', [['key', '=', key]])
    param_id = existing[0]['id'] if existing else admin_rpc('ir.config_parameter', 'create',
                                                            {'key': key, 'value': '300'})
    value = existing[0]['value'] if existing else '300'
    try:
        with pytest.raises(xmlrpc.client.Fault) as fault:
            admin_rpc('ir.config_parameter', 'write', [param_id], {'value': 'inf'})
        assert 'The system parameter %s cannot be "inf"' % key in fault.value.faultString
        assert admin_rpc('ir.config_parameter', 'read', [param_id], ['value'])[0]['value'] == value
    finally:
        if not existing:
            admin_rpc('ir.config_parameter', 'unlink', [param_id])


def test_a_url_is_stored_and_tracked_as_it_is_sent(admin_rpc):
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'idna', 'model': 'res.partner', 'action': 'update', 'field_names': ['email'],
        'url': 'https://bücher.example/pfad/ä?token=ü'})
    try:
        [callback] = admin_rpc('webhook.callback', 'read', [callback_id], ['url', 'url_display', 'endpoint'])
        assert (callback['url'], callback['url_display'], callback['endpoint']) == (
            'https://xn--bcher-kva.example/pfad/%C3%A4?token=%C3%BC', 'https://xn--bcher-kva.example/pfad/%C3%A4?token=***',
            'https://xn--bcher-kva.example:443')
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])


@pytest.mark.parametrize('vals, message', [
    ({'url': 'https://user:pw@erp.example.com/h'}, 'carries a user name or password; put credentials in Extra'),
    ({'url': 'http://[::1]:99999/h'}, 'is not a valid URL'),
    ({'url': 'https://erp.example.com/a b'}, 'contains a space or a control character'),
    ({'headers': '\n'.join('X-H%d: %s' % (i, 'a' * 1000) for i in range(9))},
     'Extra headers: at most 20 lines and 8192 characters in all'),
])
def test_a_bad_url_or_header_is_refused_on_write_and_saves_nothing(admin_rpc, vals, message):
    callback_id = admin_rpc('webhook.callback', 'create', {
        'name': 'write-refused', 'model': 'res.partner', 'action': 'update', 'field_names': ['email'],
        'url': 'https://erp.example.com/hooks?token=t0k3n'})
    try:
        fields = ['url', 'url_display', 'endpoint', 'headers']
        [before] = admin_rpc('webhook.callback', 'read', [callback_id], fields)
        with pytest.raises(xmlrpc.client.Fault) as fault:
            admin_rpc('webhook.callback', 'write', [callback_id], vals)
        assert message in fault.value.faultString
        assert admin_rpc('webhook.callback', 'read', [callback_id], fields) == [before]
        assert before['url_display'] == 'https://erp.example.com/hooks?token=***'
    finally:
        admin_rpc('webhook.callback', 'unlink', [callback_id])
