# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Signing, as Standard Webhooks (https://www.standardwebhooks.com) specifies it.

``webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``,
keyed with the callback's unique key decoded as base64 (a 40-character [A-Za-z0-9] key
is valid base64: 30 bytes). Receivers can verify with the Standard Webhooks libraries,
passing the key as the secret. The key itself is never sent.

During a key rotation's overlap a message carries one signature per valid key, newest first,
space-delimited (``v1,<with new key> v1,<with previous key>``), as the specification provides
for rotation: a receiver verifies with whichever key it knows.
"""
import base64
import hashlib
import hmac


def signature(key, message_id, timestamp, body):
    """``v1,<base64 signature>`` of ``body`` (bytes)."""
    secret = base64.b64decode(key)
    signed = ('%s.%d.' % (message_id, timestamp)).encode('utf-8') + body
    return 'v1,' + base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode('ascii')


def headers(keys, message_id, timestamp, body):
    """The Standard Webhooks headers of one attempt, signed with each of ``keys`` (a key or a
    sequence of keys, newest first)."""
    if isinstance(keys, str):
        keys = (keys,)
    return {
        'webhook-id': message_id,
        'webhook-timestamp': str(timestamp),
        'webhook-signature': ' '.join(signature(key, message_id, timestamp, body) for key in keys),
    }
