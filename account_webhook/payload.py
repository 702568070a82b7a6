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
import datetime
import json
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
    value = field.convert_to_record(field.convert_to_cache(raw, record, validate=False), record)
    return _scalar(field, value)


def record_values(record, field_names):
    """``{field name: JSON value}`` for the given fields of one record, sorted by name."""
    return OrderedDict((name, field_value(record, record._fields[name])) for name in sorted(field_names))


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
