# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""examples/invoice_item_api.py: the example invoice item API answers like the third-party API it
stands for (refusals are HTTP 200 with status "error"), limits its rate and checks signatures.
Standard library only, no Odoo."""
import base64
import hashlib
import hmac
import importlib.util
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'examples',
                       'invoice_item_api.py')
API_KEY = 'test-api-key'
ITEM = {'description': 'test description 3', 'quantity': 1, 'tax_exempt': False, 'amount': 250, 'total': 250,
        'order_id': 0, 'due_date': '2023-12-20 23:59:59', 'attributes': {'sample3': 'Example test 3'}}


def _load_example():
    spec = importlib.util.spec_from_file_location('account_webhook_example_invoice_item_api', EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()


@pytest.fixture
def api():
    server = example.InvoiceItemApi(API_KEY).start()
    try:
        yield server
    finally:
        server.close()


def call(url, body=None, method='POST', api_key=API_KEY, headers=None, data=None):
    """(HTTP code, response headers, JSON answer) of one request; HTTP errors are answers too."""
    if data is None and body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header('Content-Type', 'application/json')
    if api_key is not None:
        request.add_header('Apikey', api_key)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read().decode())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, json.loads(error.read().decode())


def sign(key, body, msg_id='msg_1', timestamp=None):
    """Standard Webhooks headers for ``body`` signed with the base64 ``key``."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signed = ('%s.%s.' % (msg_id, timestamp)).encode() + body
    signature = base64.b64encode(hmac.new(base64.b64decode(key), signed, hashlib.sha256).digest()).decode()
    return {'webhook-id': msg_id, 'webhook-timestamp': timestamp, 'webhook-signature': 'v1,' + signature}


def test_create_answers_like_the_documented_example_with_ids_from_572(api):
    code, _headers, answer = call(api.url + '/CreateInvoiceItem/123', ITEM)
    assert code == 200
    assert answer == {'status': 'successful', 'data': dict(ITEM, id=572, owner_id=123)}
    code, _headers, answer = call(api.url + '/CreateInvoiceItem/124', {'description': 'second', 'amount': 12.5,
                                                                       'quantity': 3, 'unknown': 'ignored'})
    assert (code, answer['status']) == (200, 'successful')
    assert answer['data'] == {'id': 573, 'owner_id': 124, 'description': 'second', 'amount': 12.5,
                              'quantity': 3, 'total': 37.5}  # quantity given, total defaults to amount * quantity
    assert [item['id'] for item in api.items] == [572, 573]
    code, _headers, log = call(api.url + '/Items', method='GET', api_key=None)
    assert code == 200
    assert log['items'] == api.items
    assert [(r['method'], r['path'], r['code'], r['status']) for r in log['requests']] == [
        ('POST', '/api/Billing/CreateInvoiceItem/123', 200, 'successful'),
        ('POST', '/api/Billing/CreateInvoiceItem/124', 200, 'successful')]
    assert log['requests'][0]['body'] == ITEM and log['requests'][0]['at']
    assert api.requests == log['requests']


def test_quantity_defaults_to_one_and_put_and_patch_create_too(api):
    for method in ('PUT', 'PATCH'):
        code, _headers, answer = call(api.url + '/CreateInvoiceItem/7', {'description': 'x', 'amount': 4},
                                      method=method)
        assert (code, answer['status']) == (200, 'successful')
        assert (answer['data']['quantity'], answer['data']['total']) == (1, 4)


@pytest.mark.parametrize('body, message', [
    ({'amount': 250}, 'description is required'),
    ({'description': '   ', 'amount': 250}, 'description must be a non-empty string'),
    ({'description': 'x'}, 'amount is required'),
    ({'description': 'x', 'amount': '250'}, 'amount must be a number'),
    ({'description': 'x', 'amount': True}, 'amount must be a number'),
    ({'description': 'x', 'amount': 1, 'quantity': 1.5}, 'quantity must be an integer'),
    ({'description': 'x', 'amount': 1, 'due_date': '2023-12-20'}, 'due_date must be a date "YYYY-MM-DD HH:MM:SS"'),
    ({'description': 'x', 'amount': 1, 'attributes': []}, 'attributes must be an object'),
    ({'description': 'x', 'amount': 1, 'tax_exempt': 'no'}, 'tax_exempt must be true or false'),
    ([ITEM], 'Body must be a JSON object'),
])
def test_an_invalid_item_is_refused_with_http_200_naming_the_field(api, body, message):
    code, _headers, answer = call(api.url + '/CreateInvoiceItem/123', body)
    assert code == 200
    assert answer['status'] == 'error'
    assert answer['message'].startswith(message)
    assert api.items == []


def test_a_wrong_or_missing_api_key_is_refused_with_http_200(api):
    for api_key in ('wrong', '', None):
        code, _headers, answer = call(api.url + '/CreateInvoiceItem/123', ITEM, api_key=api_key)
        assert (code, answer) == (200, {'status': 'error', 'message': 'Invalid API key'})
    assert api.items == []
    assert [r['status'] for r in api.requests] == ['error'] * 3


def test_a_body_that_is_not_json_unknown_paths_and_wrong_methods(api):
    code, _headers, answer = call(api.url + '/CreateInvoiceItem/123', data=b'description=x&amount=1')
    assert (code, answer) == (200, {'status': 'error', 'message': 'Body is not JSON'})
    assert api.requests[-1]['body'] == 'description=x&amount=1'
    for path in ('/CreateInvoice/123', '/CreateInvoiceItem/abc', '/CreateInvoiceItem', '/../Items'):
        code, _headers, answer = call(api.url + path, ITEM)
        assert (code, answer['status']) == (404, 'error')
    code, headers, answer = call(api.url + '/CreateInvoiceItem/123', method='GET')
    assert (code, headers['Allow']) == (405, 'POST, PUT, PATCH')
    assert api.items == []


def test_update_and_delete_an_existing_and_an_unknown_item(api):
    call(api.url + '/CreateInvoiceItem/123', ITEM)
    code, _headers, answer = call(api.url + '/UpdateInvoiceItem/572', {'description': 'renamed', 'quantity': 2})
    assert (code, answer['status']) == (200, 'successful')
    assert answer['data'] == dict(ITEM, id=572, owner_id=123, description='renamed', quantity=2, total=500)
    code, _headers, answer = call(api.url + '/UpdateInvoiceItem/572', {'total': 450}, method='PATCH')
    assert answer['data']['total'] == 450 and api.items[0]['total'] == 450
    code, _headers, answer = call(api.url + '/UpdateInvoiceItem/572', {'amount': 'lots'})
    assert (code, answer) == (200, {'status': 'error', 'message': 'amount must be a number, not "lots"'})
    code, _headers, answer = call(api.url + '/UpdateInvoiceItem/572', {})
    assert (code, answer['status']) == (200, 'error') and 'No invoice item field' in answer['message']
    code, _headers, answer = call(api.url + '/UpdateInvoiceItem/999', {'description': 'x'})
    assert (code, answer) == (200, {'status': 'error', 'message': 'Invoice item 999 not found'})

    code, _headers, answer = call(api.url + '/DeleteInvoiceItem/999', method='DELETE')
    assert (code, answer) == (200, {'status': 'error', 'message': 'Invoice item 999 not found'})
    code, _headers, answer = call(api.url + '/DeleteInvoiceItem/572', method='DELETE')
    assert (code, answer) == (200, {'status': 'successful', 'data': {'id': 572}})
    assert api.items == [] and api.requests[-1]['body'] == ''
    code, _headers, answer = call(api.url + '/DeleteInvoiceItem/572', {})  # POST works too; already gone
    assert (code, answer) == (200, {'status': 'error', 'message': 'Invoice item 572 not found'})
    code, _headers, answer = call(api.url + '/UpdateInvoiceItem/572', {'description': 'x'})
    assert answer == {'status': 'error', 'message': 'Invoice item 572 not found'}


def test_bulk_create_makes_every_item_or_none(api):
    items = [{'description': 'a', 'amount': 1}, {'description': 'b', 'amount': 2, 'quantity': 2}]
    code, _headers, answer = call(api.url + '/CreateInvoiceItems/123', items)
    assert (code, answer['status']) == (200, 'successful')
    assert [(i['id'], i['owner_id'], i['total']) for i in answer['data']] == [(572, 123, 1), (573, 123, 4)]
    code, _headers, answer = call(api.url + '/CreateInvoiceItems/124', {'items': [ITEM]})
    assert [i['id'] for i in answer['data']] == [574]

    bad = [ITEM, ITEM, {'amount': 3}, {'description': ''}]
    code, _headers, answer = call(api.url + '/CreateInvoiceItems/125', bad)
    assert (code, answer['status']) == (200, 'error')
    assert answer['message'] == 'Item 2: description is required (a non-empty string) (nothing was created)'
    for body in ([], {'items': []}, {'description': 'x', 'amount': 1}):
        code, _headers, answer = call(api.url + '/CreateInvoiceItems/125', body)
        assert (code, answer['status']) == (200, 'error') and 'non-empty JSON list' in answer['message']
    assert [i['id'] for i in api.items] == [572, 573, 574]
    code, _headers, answer = call(api.url + '/CreateInvoiceItem/1', ITEM)
    assert answer['data']['id'] == 575  # refused batches used no id


def test_concurrent_creates_get_distinct_ids(api):
    answers = []

    def create(n):
        answers.append(call(api.url + '/CreateInvoiceItem/%d' % n, {'description': 'c%d' % n, 'amount': n}))
    threads = [threading.Thread(target=create, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answer[2]['data']['id'] for answer in answers) == list(range(572, 592))
    assert len(api.items) == len(api.requests) == 20


def test_beyond_the_rate_limit_the_answer_is_429_with_retry_after():
    api = example.InvoiceItemApi(API_KEY, rate_limit=3, rate_window=60).start()
    try:
        for _ in range(3):
            code, _headers, answer = call(api.url + '/CreateInvoiceItem/1', ITEM, api_key='wrong')
            assert (code, answer['message']) == (200, 'Invalid API key')  # refused calls count too
        assert call(api.url + '/Items', method='GET')[0] == 200  # the log is no API call
        code, headers, answer = call(api.url + '/CreateInvoiceItem/1', ITEM)
        assert code == 429
        assert answer['message'] == 'Rate limit: 3 calls per 60 seconds; retry in %s s' % headers['Retry-After']
        assert 55 <= int(headers['Retry-After']) <= 60
        assert api.items == []
        assert [r['code'] for r in api.requests] == [200, 200, 200, 429]
    finally:
        api.close()


def test_a_call_fits_again_once_the_rate_window_has_moved_on():
    api = example.InvoiceItemApi(API_KEY, rate_limit=2, rate_window=1).start()
    try:
        assert [call(api.url + '/CreateInvoiceItem/1', ITEM)[0] for _ in range(3)] == [200, 200, 429]
        time.sleep(1.1)
        code, _headers, answer = call(api.url + '/CreateInvoiceItem/1', ITEM)
        assert (code, answer['data']['id']) == (200, 574)
    finally:
        api.close()


def test_with_callback_keys_every_call_must_be_signed():
    key, other = base64.b64encode(b'k' * 32).decode(), base64.b64encode(b'o' * 32).decode()
    api = example.InvoiceItemApi(API_KEY, keys=[key]).start()
    try:
        url, body = api.url + '/CreateInvoiceItem/123', json.dumps(ITEM).encode()
        code, _headers, answer = call(url, data=body)
        assert (code, answer) == (401, {'status': 'error', 'message': 'Invalid webhook signature'})
        for headers in (sign(other, body), sign(key, body, timestamp=time.time() - 3600), sign(key, body + b' ')):
            assert call(url, data=body, headers=headers)[0] == 401
        code, _headers, answer = call(url, data=body, headers=sign(key, body))
        assert (code, answer['status'], answer['data']['id']) == (200, 'successful', 572)
        code, _headers, answer = call(url, data=body, headers=sign(key, body), api_key='wrong')
        assert (code, answer['message']) == (200, 'Invalid API key')  # a signature is no API key
        assert [i['id'] for i in api.items] == [572]
    finally:
        api.close()


def test_the_example_reuses_the_receiver_signature_check():
    assert example.verify.__module__ == 'account_webhook_example_receiver'


def test_the_command_line_prints_one_line_per_request():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, INVOICE_API_KEY=API_KEY, WEBHOOK_KEYS='')
    process = subprocess.Popen([sys.executable, EXAMPLE, '--port', str(port), '--rate-limit', '5'], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()  # read in a thread: a silent process fails the test instead of hanging it
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        banner = lines.get(timeout=10)
        assert banner.startswith('example invoice item API on http://127.0.0.1:%d/api/Billing' % port)
        assert 'rate limit 5 per 60s' in banner and 'no signature check' in banner
        url = 'http://127.0.0.1:%d/api/Billing/CreateInvoiceItem/123' % port
        assert call(url, ITEM)[2]['data']['id'] == 572
        line = lines.get(timeout=10)
        assert line.split(None, 1)[1].strip() == 'POST /api/Billing/CreateInvoiceItem/123  200 successful  id=572'
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_the_command_line_wants_an_api_key():
    env = {k: v for k, v in os.environ.items() if k != 'INVOICE_API_KEY'}
    result = subprocess.run([sys.executable, EXAMPLE], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert 'give an API key' in result.stderr
