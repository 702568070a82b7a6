# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Staged events: what the capture writes in the transaction of a change, one row per record, and
their fan-out into the outbox, one delivery per callback (as Svix keeps a message apart from its
attempts).

A change of 1,000 records that 10 callbacks follow is 1,000 ``webhook_event`` rows, written by
one ``INSERT`` (``stage``) into a table with one index and no foreign key: the accountant's save
does not grow with the callbacks. A row holds what every delivery of the change needs: the
record, the operation, the callbacks that get it (their filters, companies and changed fields
were decided in the transaction), each callback's fields (``plan``, the same text for every row
of a flush), the tracked values as one JSON object, the names of the fields that changed, the
timestamp and the key that the events' ids come from (``payload.event_id_of``).

``expand`` fans rows out into ``webhook_delivery`` rows, byte for byte the bodies the capture
wrote before events were staged, and deletes them, in one transaction:

- the dispatchers, before each claim (``claiming.claim``), on their own connection;
- ``webhook.delivery`` before its searches and counts, so that what is read of the outbox
  includes every change committed (on a cursor of its own, committed at once) and the changes
  of the reading transaction (in it: no other transaction sees them), in that order.

Committed rows are expanded by one transaction at a time (an advisory lock) in their order, so
the deliveries of one record follow the order of its changes. A rollback drops the rows with
the change: nothing is sent.
"""
import json
from collections import OrderedDict

from .. import payload
from . import outbox
from .state import run

LOCK = (0x7765626b, 0)  # (callback ids are positive: the rate limits' locks never take this one)
EXPAND_BATCH = 5000  # rows a dispatcher expands per cycle
READ_BATCH = 20000  # rows a search of the outbox expands at most

# Set by the capture (models/webhook_mixin.expand_own): fans out the events the transaction of an
# Odoo cursor staged (a test's or an action's claim); the dispatchers' own cursors have none.
expand_own = None

TABLE = """
    CREATE TABLE IF NOT EXISTS webhook_event (
        id bigserial PRIMARY KEY,
        res_model varchar NOT NULL,
        res_id integer NOT NULL,
        operation varchar NOT NULL,
        key varchar NOT NULL,
        callback_ids integer[] NOT NULL,
        plan text NOT NULL,
        "values" text NOT NULL,
        changed text,
        timestamp varchar NOT NULL,
        create_uid integer,
        create_date timestamp NOT NULL
    )"""
_COLUMNS = 'id, res_model, res_id, operation, key, callback_ids, plan, "values", changed, timestamp, create_uid, ' \
           'create_date'
_INSERT = 'INSERT INTO webhook_event (%s)' % _COLUMNS[len('id, '):]  # what the capture writes of an event


def plan(callbacks):
    """The ``plan`` of a flush: each callback's fields (``(id, action, company, fields, filter)``
    tuples of ``webhook.callback._active_callbacks``), as JSON."""
    return json.dumps(OrderedDict((str(cb[0]), list(cb[3])) for cb in callbacks))


def stage(cr, uid, now, events, replaced=()):
    """Write events ``(model, record id, operation, key, callback ids, plan, values JSON, changed
    JSON or None, timestamp)`` in one statement, after deleting the rows ``replaced`` (ids of rows
    this transaction staged for the same records). Returns ``{(model, record id): row id}``.

    The rows travel as one text, a line each (JSON never holds a raw tab or line break), and what
    all the rows of a model share (its plan and timestamp) once: quoting thousands of array items
    would cost more than the insert."""
    if not events:
        if replaced:
            cr.execute('DELETE FROM webhook_event WHERE id = ANY(%s)', (list(replaced),))
        return {}
    if len(events) == 1 and not replaced:  # a form's save: a plain insert is planned in half the time
        (model, res_id, operation, key, callback_ids, plan_text, values, changed, timestamp), = events
        cr.execute(_INSERT + ' VALUES (%s, %s, %s, %s, %s::int4[], %s, %s, %s, %s, %s, %s) RETURNING id', (
            model, res_id, operation, key, list(callback_ids), plan_text, values, changed, timestamp, uid, now))
        return {(model, res_id): cr.fetchone()[0]}
    shared = {}  # (model, plan, timestamp) -> its number
    lines = []
    for model, res_id, operation, key, callback_ids, plan_text, values, changed, timestamp in events:
        number = shared.setdefault((model, plan_text, timestamp), len(shared) + 1)
        lines.append('%d\t%s\t%s\t{%s}\t%d\t%s\t%s' % (res_id, operation, key, ','.join(map(str, callback_ids)),
                                                       number, values, changed or ''))
    models, plans, timestamps = (list(column) for column in zip(*shared))
    cr.execute("""
        WITH replaced AS (DELETE FROM webhook_event WHERE id = ANY(%s::bigint[]))
        """ + _INSERT + """
        SELECT s.res_model, split_part(t.line, E'\t', 1)::int4, split_part(t.line, E'\t', 2),
               split_part(t.line, E'\t', 3), split_part(t.line, E'\t', 4)::int4[], s.plan,
               split_part(t.line, E'\t', 6), NULLIF(split_part(t.line, E'\t', 7), ''), s.timestamp, %s, %s
          FROM unnest(string_to_array(%s, E'\n')) WITH ORDINALITY AS t(line, n)
          JOIN unnest(%s::varchar[], %s::text[], %s::varchar[]) WITH ORDINALITY AS s(res_model, plan, timestamp, number)
            ON s.number = split_part(t.line, E'\t', 5)::int8
         ORDER BY t.n
        RETURNING res_model, res_id, id""", (list(replaced), uid, now, '\n'.join(lines), models, plans, timestamps))
    return {(model, res_id): row_id for model, res_id, row_id in cr.fetchall()}


def stage_verified(cr, uid, now, event, table, conditions, params):
    """Write one event (as ``stage`` takes them, the first this transaction stages for its record)
    if its record's row in ``table`` satisfies ``conditions`` (SQL with ``params``): the capture
    predicted the values from what was written and stages them without reading them first, in
    one statement that checks them. Returns the row id, or None (nothing written) when the row
    holds other values."""
    model, res_id, operation, key, callback_ids, plan_text, values, changed, timestamp = event
    # pylint: disable-next=sql-injection  # the table and the conditions: the capture's, of the model's fields
    cr.execute("""
        %s
        SELECT %%s, id, %%s, %%s, %%s::int4[], %%s, %%s, %%s, %%s, %%s, %%s FROM "%s" WHERE id = %%s AND %s
        RETURNING id""" % (_INSERT, table, conditions), [
        model, operation, key, list(callback_ids), plan_text, values, changed, timestamp, uid, now, res_id] + params)
    row = cr.fetchone()
    return row and row[0]


def staged(cr):
    """Whether any event waits to be expanded (that this transaction sees)."""
    cr.execute('SELECT EXISTS (SELECT 1 FROM webhook_event)')
    return cr.fetchone()[0]


def expand(cr, limit=EXPAND_BATCH, own=None, wait=False):
    """Fan out up to ``limit`` events, the oldest first, into deliveries; returns how many events.

    Committed events are expanded by one transaction at a time (an advisory lock), in ``READ
    COMMITTED``: a dispatcher's, which returns 0 when another holds the lock, or (``wait``)
    ``webhook.delivery``'s on a cursor of its own, which waits for the other to commit, so that
    what it reads next includes those deliveries. ``own``: instead, the ids of the events this
    transaction staged (no other transaction sees them)."""
    if own is not None:
        # pylint: disable-next=sql-injection  # _COLUMNS: a constant
        cr.execute('DELETE FROM webhook_event WHERE id = ANY(%%s) RETURNING %s' % _COLUMNS, (list(own),))
    else:
        cr.execute('SELECT %s(%%s, %%s)' % ('pg_advisory_xact_lock' if wait else 'pg_try_advisory_xact_lock'), LOCK)
        if not wait and not cr.fetchone()[0]:
            return 0
        # pylint: disable-next=sql-injection  # _COLUMNS: a constant
        run(cr, 'expand', 'DELETE FROM webhook_event WHERE id IN (SELECT id FROM webhook_event ORDER BY id '
                          'LIMIT %%(limit)s) RETURNING %s' % _COLUMNS, dict(limit=limit))
    rows = sorted(cr.fetchall())
    if not rows:
        return 0
    cr.execute('SELECT id FROM webhook_callback WHERE id = ANY(%s)',
               (sorted({callback_id for row in rows for callback_id in row[5]}),))
    existing = {row[0] for row in cr.fetchall()}  # a callback deleted since the change gets nothing
    plans = {}
    deliveries = []
    for _id, model, res_id, operation, key, callback_ids, plan_text, values, changed, timestamp, uid, created in rows:
        fields_of = plans.get(plan_text)
        if fields_of is None:
            fields_of = plans[plan_text] = {int(cb): tuple(names) for cb, names in json.loads(plan_text).items()}
        values = json.loads(values, object_pairs_hook=OrderedDict)
        changed = None if changed is None else frozenset(json.loads(changed))
        tail = payload.dumps_tail(timestamp)
        items, heads = {}, {}  # each value encoded, each distinct body built, once per event
        for callback_id in callback_ids:
            if callback_id not in existing:
                continue
            names = fields_of[callback_id]
            callback_changed = None if changed is None else tuple(name for name in names if name in changed)
            head = heads.get((names, callback_changed))
            if head is None:
                for name in names:
                    if name not in items:
                        items[name] = payload.encode_item(name, values[name])
                head = heads[(names, callback_changed)] = payload.dumps_head(
                    model, operation, res_id, [items[name] for name in names], callback_changed)
            event_id = payload.event_id_of(key, callback_id)
            deliveries.append((callback_id, event_id, model, res_id, operation, head + event_id + tail, uid, created))
    outbox.insert(cr, deliveries)
    return len(rows)
