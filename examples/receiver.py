#!/usr/bin/env python3
# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""An example receiver of account_webhook callbacks: standard library only.

It listens on 127.0.0.1, verifies each POST's Standard Webhooks signature with the
callback keys it was given, answers 204 (or 401 when the signature is wrong), and prints
each event on one line:

    12:04:31  account.invoice  update  id=7  changed=state  {"state": "open", ...}  signature ok

Usage: python examples/receiver.py [--port 8075] --key KEY [--key KEY ...]
(keys also from the environment variable WEBHOOK_KEYS, comma-separated)
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 5 * 60  # seconds: refuse replays of old messages


def verify(keys, headers, body):
    """True if one of the keys signed this body (Standard Webhooks, v1 = HMAC-SHA256)."""
    msg_id, timestamp = headers.get('webhook-id', ''), headers.get('webhook-timestamp', '0')
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE:
        return False
    signed = ('%s.%s.' % (msg_id, timestamp)).encode() + body
    offered = [s.split(',', 1)[1] for s in headers.get('webhook-signature', '').split() if s.startswith('v1,')]
    for key in keys:
        expected = base64.b64encode(hmac.new(base64.b64decode(key), signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, signature) for signature in offered):
            return True
    return False


def handler_for(keys):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
            valid = verify(keys, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(204 if valid else 401)
            self.end_headers()
            try:
                event = json.loads(body.decode('utf-8'))
            except ValueError:
                event = {}
            changed = event.get('changed')
            print('%s  %s  %s  id=%s%s  %s  signature %s' % (
                time.strftime('%H:%M:%S'), event.get('object'), event.get('operation'), event.get('id'),
                '  changed=%s' % ','.join(changed) if changed else '',
                json.dumps(event.get('values'), ensure_ascii=False)[:300],
                'ok' if valid else 'INVALID'), flush=True)

        def log_message(self, *args):
            pass
    return Handler


def main():
    parser = argparse.ArgumentParser(description='Print and verify account_webhook callbacks.')
    parser.add_argument('--port', type=int, default=8075)
    parser.add_argument('--key', action='append', default=[])
    args = parser.parse_args()
    keys = args.key + [k for k in os.environ.get('WEBHOOK_KEYS', '').split(',') if k]
    if not keys:
        parser.error('give at least one callback key (--key or WEBHOOK_KEYS)')
    ThreadingHTTPServer.request_queue_size = 128  # the dispatcher sends several requests at once
    server = ThreadingHTTPServer(('127.0.0.1', args.port), handler_for(keys))
    print('example receiver on http://127.0.0.1:%d/ (verifying %d key(s))' % (args.port, len(keys)), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == '__main__':
    main()
