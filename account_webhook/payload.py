# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The callback payload: how record values become JSON, in one place.

The capture (``models/webhook_mixin.py``) and the callback form's sample payload
both use it, so what the form shows is exactly what is sent:

``{"object": ..., "operation": ..., "id": ..., "values": {...}, ["changed": [...],]
["backfill": true,] "event_id": ..., "timestamp": ...}``

- many2one: the id, or ``null``
- one2many / many2many: a list of objects: ``id``, ``display_name`` and the related record's
  stored scalar and many2one fields (many2many ones as lists of ids) that carry no secret
  (see ``is_secret``); records of private models (users, messages, followers, activities,
  attachments) give ``id`` and ``display_name`` only
- date: ``"YYYY-MM-DD"``; datetime: ``"YYYY-MM-DDTHH:MM:SSZ"`` (UTC)
- float / monetary: numbers; selection: the key; an empty value: ``null``
- binary fields cannot be tracked.
"""
import binascii
import datetime
import hashlib
import json
import os
import re
import uuid
from collections import OrderedDict

# Bookkeeping columns, not business data: never inside nested objects.
LOG_ACCESS_FIELDS = frozenset(['create_uid', 'create_date', 'write_uid', 'write_date', '__last_update'])
UNTRACKABLE_TYPES = frozenset(['binary'])
# Never sent, whoever asks: fields whose name says they hold a credential...
SECRET_NAME = re.compile(r'passw|token|secret|crypt|signup|api_?key|totp|oauth', re.IGNORECASE)
# ... and the fields of models that are people's accounts and conversations: their records, nested
# in a payload, are ``id`` and ``display_name`` only.
PRIVATE_MODELS = frozenset(['res.users', 'res.users.log', 'mail.message', 'mail.mail', 'mail.followers',
                            'mail.notification', 'mail.activity', 'mail.tracking.value', 'ir.attachment'])


def is_secret(field):
    """Whether a field (of a model's ``_fields``) may never be sent: restricted to some groups (Odoo
    hides it from other users), or named like a password, token, key or secret."""
    return bool(field.groups) or bool(SECRET_NAME.search(field.name))


def new_event_id():
    return str(uuid.uuid4())


# the 4 bits of a random hex digit -> the UUID variant digit (10xx), as uuid.uuid4() sets it
_VARIANT = dict((digit, '89ab'[int(digit, 16) & 3]) for digit in '0123456789abcdef')


def new_keys(count):
    """``count`` random keys (32 hex digits each) from one read of ``os.urandom``: the capture gives
    each record changed in a transaction one, and each of its events' ids comes from it
    (``event_id_of``)."""
    digits = binascii.hexlify(os.urandom(16 * count)).decode('ascii')
    return [digits[start:start + 32] for start in range(0, 32 * count, 32)]


def event_id_of(key, callback_id):
    """The event id of a callback's event for the record change of ``key`` (``new_keys``): a version 4
    UUID, as random as the key (its 122 bits are the key's SHA-256 with the callback's id), and the
    same every time, so that fanning an event out again (a second change in the same transaction)
    updates the delivery it made instead of adding one."""
    h = hashlib.sha256(('%s:%d' % (key, callback_id)).encode('ascii')).hexdigest()
    return '%s-%s-4%s-%s%s-%s' % (h[:8], h[8:12], h[13:16], _VARIANT[h[16]], h[17:20], h[20:32])


def utc_timestamp(moment=None):
    return (moment or datetime.datetime.utcnow()).strftime('%Y-%m-%dT%H:%M:%SZ')


def _scalar(field, value):
    ftype = field.type
    if ftype == 'boolean':
        return bool(value)
    if ftype == 'many2one':
        return value.id or None
    if value is False or value is None:
        return None
    if ftype == 'datetime':
        return value.replace(' ', 'T') + 'Z'
    if ftype in ('float', 'monetary'):
        return float(value)
    if ftype == 'integer':
        return int(value)
    return value


def _nested_fields(model):
    if model._name in PRIVATE_MODELS:
        return []
    return [field for name, field in sorted(model._fields.items())
            if field.store and name not in LOG_ACCESS_FIELDS and field.type not in UNTRACKABLE_TYPES
            and field.type != 'one2many' and name != 'display_name' and not is_secret(field)]


def _nested(records):
    fields = _nested_fields(records)
    result = []
    for record in records:
        item = OrderedDict([('id', record.id), ('display_name', record.display_name)])
        for field in fields:
            value = record[field.name]
            item[field.name] = value.ids if field.type == 'many2many' else _scalar(field, value)
        result.append(item)
    return result


def field_value(record, field):
    """The JSON value of ``field`` (a field object of ``record``'s model) on ``record``."""
    value = record[field.name]
    if field.type in ('one2many', 'many2many'):
        return _nested(value)
    return _scalar(field, value)


def column_value(record, field, raw):
    """The JSON value of ``field`` from its raw database column value (as psycopg2 reads it)."""
    return cached_value(record, field, field.convert_to_cache(raw, record, validate=False))


def cached_value(record, field, value):
    """The JSON value of ``field`` from its value in Odoo's cache (what ``column_value`` gives for
    the column it was read from)."""
    return _scalar(field, field.convert_to_record(value, record))


def _integer(raw):
    return int(raw or 0)


def _or_none(raw):
    return raw or None


def _as_is(raw):
    return raw


# The plain field classes of ``odoo.fields`` whose JSON value is their column's, converted
# without the ORM: the conversion, the same conversion in SQL (``{}`` is the column) and the
# Python types of its results.
_PLAIN = {
    'Boolean': (bool, 'COALESCE({}, false)', (bool,)),
    'Integer': (_integer, 'COALESCE({}, 0)', (int,)),
    'Text': (_as_is, '{}', (str, type(None))),  # a text column holds text or NULL
    # convert_to_cache(validate=False) is ``value or False``
    'Selection': (_or_none, "NULLIF({}, '')", (str, type(None))),
    'Many2one': (_or_none, 'NULLIF({}, 0)', (int, type(None))),  # an id, or no record
}


def _plain(field):
    """``(conversion, SQL, types)`` of a plain field (see ``_PLAIN``), or None."""
    kind = type(field)
    if kind.__module__ != 'odoo.fields':
        return None
    if kind.__name__ == 'Char':
        size = field.size
        if size is None:
            return _PLAIN['Text']
        return (lambda raw: raw if raw is None else raw[:size]), 'left({}, %d)' % size, (str, type(None))
    if kind.__name__ == 'Selection' and field.column_type[0] == 'int4':
        return _or_none, 'NULLIF({}, 0)', (int, type(None))
    return _PLAIN.get(kind.__name__)


def column_converter(field):
    """A function from ``field``'s raw column value to its JSON value that gives what ``column_value``
    gives, without the ORM's conversions, for the plain field classes of ``odoo.fields`` where they
    change nothing: boolean, integer, char, text, selection, many2one. ``None`` for other fields (use
    ``column_value``)."""
    plain = _plain(field)
    return plain and plain[0]


def column_sql(field, column):
    """For the fields ``column_converter`` converts: ``(expression, types)``, the SQL expression of
    ``column`` (quoted) whose value is the field's JSON value, equal as SQL compares it (``IS NOT
    DISTINCT FROM``) to a JSON value of one of the Python ``types`` exactly when the conversion
    gives that value; else None."""
    plain = _plain(field)
    return plain and (plain[1].format(column), plain[2])


def record_values(record, field_names):
    """``{field name: JSON value}`` for the given fields of one record, sorted by name."""
    return OrderedDict((name, field_value(record, record._fields[name])) for name in sorted(field_names))


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(', ', ': '))
encode = _ENCODER.encode  # one JSON value, written exactly as ``dumps`` writes it inside a body


def encode_item(name, value):
    """``"name": value`` as ``dumps`` writes it inside ``values``."""
    return encode(name) + ': ' + encode(value)


def dumps_head(model, operation, res_id, items, changed=None, backfill=False):
    """The body ``dumps`` writes, up to its event id, from the values already encoded (``items``:
    ``encode_item`` texts, in the order of the fields): ``dumps_head(...) + event_id +
    dumps_tail(timestamp)`` is ``dumps(..., event_id, timestamp, ...)`` byte for byte for an event
    id that JSON writes as is (``new_event_id``'s, ``event_id_of``'s). The fan-out of a captured
    event builds each distinct head once, whatever the number of callbacks that send it."""
    parts = ['{"object": ', encode(model), ', "operation": ', encode(operation), ', "id": ', encode(res_id),
             ', "values": {', ', '.join(items), '}']
    if changed is not None:
        parts += [', "changed": ', encode(sorted(changed))]
    if backfill:
        parts.append(', "backfill": true')
    parts.append(', "event_id": "')
    return ''.join(parts)


def dumps_tail(timestamp):
    """What follows the event id in a body (see ``dumps_head``)."""
    return '", "timestamp": ' + encode(timestamp) + '}'


def dumps(model, operation, res_id, values, event_id, timestamp, changed=None, backfill=False):
    """The exact body text that is stored in the outbox and POSTed (``backfill``: an existing
    record sent by a callback's backfill, not a change)."""
    body = [('object', model), ('operation', operation), ('id', res_id), ('values', values)]
    if changed is not None:
        body.append(('changed', sorted(changed)))
    if backfill:
        body.append(('backfill', True))
    body += [('event_id', event_id), ('timestamp', timestamp)]
    return json.dumps(OrderedDict(body), ensure_ascii=False, separators=(', ', ': '))
