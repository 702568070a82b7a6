#!/usr/bin/env python3
# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""An example third-party accounting API to point account_webhook callbacks at: standard library only.

It behaves like a billing API's invoice item endpoints (``POST {API_URL}/Billing/CreateInvoiceItem/{ID}``
and friends), keeps the items in memory, and prints each request on one line:

    12:04:31  POST /api/Billing/CreateInvoiceItem/123  200 successful  id=572

Like the real API it answers refusals with HTTP 200 and ``{"status": "error", "message": ...}``;
only an unknown path (404), a wrong method (405), a bad webhook signature (401) and the optional
rate limit (429 with Retry-After) use other HTTP codes.

Routes, under http://127.0.0.1:PORT/api/Billing (header "Apikey: KEY" required, JSON bodies):
    POST|PUT|PATCH  /CreateInvoiceItem/<invoice_id>   description (str), amount (number) required;
                    quantity (int, default 1), total (default amount * quantity), due_date
                    ("YYYY-MM-DD HH:MM:SS"), sequence, order_id, tax_exempt, attributes (object)
    POST|PUT|PATCH  /CreateInvoiceItems/<invoice_id>  a list of such items, or {"items": [...]}
    POST|PUT|PATCH  /UpdateInvoiceItem/<item_id>      the fields to change
    DELETE|POST     /DeleteInvoiceItem/<item_id>      (no body needed)
    GET             /Items                            every stored item and the request log (no key)

Usage: python examples/invoice_item_api.py [--port 8076] --api-key KEY [--rate-limit N]
       [--rate-window 60] [--key KEY ...]
(API key also from INVOICE_API_KEY; webhook signature keys, checked when given, from WEBHOOK_KEYS)
"""
import argparse
import collections
import copy
import datetime
import hmac
import importlib.util
import json
import math
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _load_receiver():
    """examples/receiver.py, loaded by path: the examples are scripts, not a package."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'receiver.py')
    spec = importlib.util.spec_from_file_location('account_webhook_example_receiver', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verify = _load_receiver().verify  # Standard Webhooks signature check, the same as the example receiver

FIRST_ITEM_ID = 572
MAX_BODY = 1024 * 1024
DATE_FORMAT = '%Y-%m-%d %H:%M:%S'
ROUTE = re.compile(r'^/api/Billing/(CreateInvoiceItems?|UpdateInvoiceItem|DeleteInvoiceItem)/(\d+)/?$')
LOG_PATH = '/api/Billing/Items'
WRITE_METHODS = ('POST', 'PUT', 'PATCH')
METHODS = {'CreateInvoiceItem': WRITE_METHODS, 'CreateInvoiceItems': WRITE_METHODS,
           'UpdateInvoiceItem': WRITE_METHODS, 'DeleteInvoiceItem': ('DELETE', 'POST')}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_date(value):
    try:
        datetime.datetime.strptime(value, DATE_FORMAT)
    except (TypeError, ValueError):
        return False
    return True


# field: (check, what the error message says it must be)
FIELDS = collections.OrderedDict([
    ('sequence', (_is_int, 'an integer')),
    ('description', (lambda v: isinstance(v, str) and bool(v.strip()), 'a non-empty string')),
    ('quantity', (_is_int, 'an integer')),
    ('amount', (_is_number, 'a number')),
    ('total', (_is_number, 'a number')),
    ('tax_exempt', (lambda v: isinstance(v, bool), 'true or false')),
    ('order_id', (_is_int, 'an integer')),
    ('due_date', (_is_date, 'a date "YYYY-MM-DD HH:MM:SS"')),
    ('attributes', (lambda v: isinstance(v, dict), 'an object')),
])
REQUIRED = ('description', 'amount')


def check_fields(body, create):
    """(fields, None) with the known fields of ``body``, or (None, error message). Unknown keys are ignored."""
    if not isinstance(body, dict):
        return None, 'Body must be a JSON object'
    if create:
        for name in REQUIRED:
            if body.get(name) is None:
                return None, '%s is required (%s)' % (name, FIELDS[name][1])
    fields = {}
    for name, (check, expected) in FIELDS.items():
        if name in body:
            if not check(body[name]):
                return None, '%s must be %s, not %s' % (name, expected, json.dumps(body[name])[:80])
            fields[name] = body[name]
    if not fields:
        return None, 'No invoice item field given (%s)' % ', '.join(FIELDS)
    return fields, None


class InvoiceItemApi(object):
    """The example API in a daemon thread, for tests: ``api = InvoiceItemApi('secret').start()``,
    then POST to ``api.url + '/CreateInvoiceItem/123'``; ``api.items``, ``api.requests``; ``api.close()``.

    ``rate_limit`` calls per ``rate_window`` seconds (None: no limit); ``keys``: Standard Webhooks keys
    (base64) whose signature every API call must carry (empty: not checked); ``log``: a callable given
    one line per request."""

    def __init__(self, api_key, port=0, rate_limit=None, rate_window=60, keys=(), log=None, timeout=10):
        if not api_key:
            raise ValueError('an API key is required')
        self.api_key = api_key
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.keys = list(keys)
        self.log = log
        self._lock = threading.Lock()
        self._items = collections.OrderedDict()
        self._next_id = FIRST_ITEM_ID
        self._requests = []
        self._calls = collections.deque()  # times of the API calls in the rate window
        self._thread = None
        self.server = _Server(('127.0.0.1', port), _handler_for(self, timeout))
        self.port = self.server.server_address[1]
        self.url = 'http://127.0.0.1:%d/api/Billing' % self.port

    def start(self):
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.1},
                                        name='invoice-item-api', daemon=True)
        self._thread.start()
        return self

    def close(self):
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    @property
    def items(self):
        """A copy of the stored invoice items, by id."""
        with self._lock:
            return copy.deepcopy(list(self._items.values()))

    @property
    def requests(self):
        """A copy of the request log: {method, path, body, at, code, status} per request but GET /Items."""
        with self._lock:
            return copy.deepcopy(self._requests)

    # ----- what the handler calls -----

    def retry_after(self):
        """None if one more call fits in the rate window (and count it), else the seconds to wait."""
        if not self.rate_limit:
            return None
        now = time.monotonic()
        with self._lock:
            while self._calls and self._calls[0] <= now - self.rate_window:
                self._calls.popleft()
            if len(self._calls) >= self.rate_limit:
                return max(1, int(math.ceil(self._calls[0] + self.rate_window - now)))
            self._calls.append(now)
            return None

    def record(self, method, path, body, code, answer):
        entry = {'method': method, 'path': path, 'body': body, 'code': code, 'status': answer.get('status'),
                 'at': datetime.datetime.now().strftime(DATE_FORMAT)}
        with self._lock:
            self._requests.append(copy.deepcopy(entry))
        if self.log:
            data = answer.get('data')
            if isinstance(data, dict):
                detail = 'id=%s' % data.get('id')
            elif isinstance(data, list):
                detail = 'ids=%s' % ','.join(str(item.get('id')) for item in data)
            else:
                detail = answer.get('message', '')
            self.log('%s  %s %s  %d %s  %s' % (time.strftime('%H:%M:%S'), method, path, code,
                                                answer.get('status', ''), detail))

    def snapshot(self):
        with self._lock:
            return {'items': copy.deepcopy(list(self._items.values())), 'requests': copy.deepcopy(self._requests)}

    def call(self, action, number, body):
        """The answer (a dict, HTTP 200) of one API call whose key and JSON body were accepted."""
        if action == 'CreateInvoiceItem':
            fields, error = check_fields(body, create=True)
            if error:
                return _error(error)
            with self._lock:
                return {'status': 'successful', 'data': copy.deepcopy(self._create(number, fields))}
        if action == 'CreateInvoiceItems':
            if isinstance(body, dict) and 'items' in body:
                body = body['items']
            if not isinstance(body, list) or not body:
                return _error('Body must be a non-empty JSON list of invoice items (or {"items": [...]})')
            checked = []
            for index, item in enumerate(body):
                fields, error = check_fields(item, create=True)
                if error:
                    return _error('Item %d: %s (nothing was created)' % (index, error))
                checked.append(fields)
            with self._lock:
                return {'status': 'successful', 'data': copy.deepcopy([self._create(number, f) for f in checked])}
        with self._lock:
            item = self._items.get(number)
            if item is None:
                return _error('Invoice item %d not found' % number)
            if action == 'DeleteInvoiceItem':
                del self._items[number]
                return {'status': 'successful', 'data': {'id': number}}
        fields, error = check_fields(body, create=False)
        if error:
            return _error(error)
        with self._lock:
            item = self._items.get(number)
            if item is None:  # deleted meanwhile
                return _error('Invoice item %d not found' % number)
            item.update(fields)
            if 'total' not in fields and ('amount' in fields or 'quantity' in fields):
                item['total'] = item['amount'] * item['quantity']
            return {'status': 'successful', 'data': copy.deepcopy(item)}

    def _create(self, invoice_id, fields):
        item = {'id': self._next_id, 'owner_id': invoice_id}
        item.update(fields)
        item.setdefault('quantity', 1)
        item.setdefault('total', item['amount'] * item['quantity'])
        self._items[item['id']] = item
        self._next_id += 1
        return item


def _error(message):
    return {'status': 'error', 'message': message}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the dispatcher sends several requests at once


def _handler_for(api, timeout):
    class Handler(BaseHTTPRequestHandler):
        def setup(self):
            self.timeout = timeout  # StreamRequestHandler puts it on the socket: no request hangs a thread
            super().setup()

        def do_GET(self):
            self.dispatch()

        do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def dispatch(self):
            path = self.path.split('?', 1)[0]
            try:
                raw = self.read_body()  # always read: a body left unread can turn the answer into a reset
            except ValueError as error:
                return self.answer(413 if 'large' in str(error) else 400, _error(str(error)))
            if path.rstrip('/') == LOG_PATH:
                if self.command != 'GET':
                    return self.answer(405, _error('Use GET'), {'Allow': 'GET'})
                return self.answer(200, dict(api.snapshot(), status='successful'))
            match = ROUTE.match(path)
            if not match:
                return self.answer(404, _error('Not found: %s' % path))
            action, number = match.group(1), int(match.group(2))
            try:
                body = json.loads(raw.decode('utf-8'))
            except ValueError:
                body = None
            logged = body if body is not None else raw.decode('utf-8', 'replace')
            if body is None and action == 'DeleteInvoiceItem' and not raw.strip():
                body = {}  # DELETE needs no body
            if self.command not in METHODS[action]:
                return self.reply(path, logged, 405, _error('Use %s' % ' or '.join(METHODS[action])),
                                  {'Allow': ', '.join(METHODS[action])})
            wait = api.retry_after()
            if wait is not None:
                return self.reply(path, logged, 429, _error('Rate limit: %d calls per %g seconds; retry in %d s'
                                                            % (api.rate_limit, api.rate_window, wait)),
                                  {'Retry-After': str(wait)})
            if api.keys and not verify(api.keys, {k.lower(): v for k, v in self.headers.items()}, raw):
                return self.reply(path, logged, 401, _error('Invalid webhook signature'))
            if not hmac.compare_digest(self.headers.get('Apikey', '').encode(), api.api_key.encode()):
                return self.reply(path, logged, 200, _error('Invalid API key'))
            if body is None:
                return self.reply(path, logged, 200, _error('Body is not JSON'))
            self.reply(path, logged, 200, api.call(action, number, body))

        def read_body(self):
            length = self.headers.get('Content-Length') or '0'
            if not length.isdigit():
                raise ValueError('Invalid Content-Length')
            if int(length) > MAX_BODY:
                raise ValueError('Body too large (over %d bytes)' % MAX_BODY)
            return self.rfile.read(int(length))

        def reply(self, path, body, code, answer, headers=None):
            api.record(self.command, path, body, code, answer)
            self.answer(code, answer, headers)

        def answer(self, code, answer, headers=None):
            data = json.dumps(answer, ensure_ascii=False).encode('utf-8')
            self.send_response(code)
            self.send_header('Content-Type', 'application/json; charset=utf-8')
            self.send_header('Content-Length', str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass
    return Handler


def main():
    parser = argparse.ArgumentParser(description='An example invoice item API for account_webhook callbacks.')
    parser.add_argument('--port', type=int, default=8076)
    parser.add_argument('--api-key', default=os.environ.get('INVOICE_API_KEY', ''),
                        help='the value the "Apikey" header must carry (default: $INVOICE_API_KEY)')
    parser.add_argument('--rate-limit', type=int, default=None, metavar='N',
                        help='answer 429 beyond N calls per --rate-window seconds')
    parser.add_argument('--rate-window', type=float, default=60, metavar='SECONDS')
    parser.add_argument('--key', action='append', default=[],
                        help='a callback key: when given, every call must carry its Standard Webhooks signature')
    args = parser.parse_args()
    if not args.api_key:
        parser.error('give an API key (--api-key or INVOICE_API_KEY)')
    if (args.rate_limit is not None and args.rate_limit < 1) or args.rate_window <= 0:
        parser.error('--rate-limit and --rate-window must be positive')
    keys = args.key + [k for k in os.environ.get('WEBHOOK_KEYS', '').split(',') if k]
    api = InvoiceItemApi(args.api_key, port=args.port, rate_limit=args.rate_limit, rate_window=args.rate_window,
                         keys=keys, log=lambda line: print(line, flush=True))
    print('example invoice item API on %s (%s, %s)' % (
        api.url, 'rate limit %d per %gs' % (args.rate_limit, args.rate_window) if args.rate_limit else 'no rate limit',
        'verifying %d key(s)' % len(keys) if keys else 'no signature check'), flush=True)
    try:
        api.server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
    finally:
        api.server.server_close()


if __name__ == '__main__':
    main()
