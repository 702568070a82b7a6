# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Change capture: create / write / unlink of callback-capable models write outbox rows.

A model becomes callback-capable by inheriting ``webhook.mixin``; a model whose
records belong to another one (invoice lines to their invoice) inherits it with
``_webhook_capable = False`` and ``_webhook_parent_field = 'invoice_id'``, so that
changing a line counts as an update of the invoice.

How it works, per database transaction (state kept on the cursor, dropped on
commit or rollback):

- the first time a record is touched, the values of the fields that update
  callbacks track are snapshotted (the values as they were before the transaction);
- operations mark records dirty; nested operations (Odoo's flows write several
  times) only mark, and the outermost captured operation flushes once when it
  returns: final values are serialized and compared with the snapshot;
- ``_write`` is captured too: recomputations (a payment changing ``residual``) write
  stored computed fields there without ``write()``; snapshots read stored columns
  from the database, since the cache may already hold recomputed values;
- a flush writes one outbox row per (callback, record) with a single set-based
  ``INSERT ... SELECT FROM unnest(...) ON CONFLICT (event_id) DO UPDATE``: a second flush in
  the same transaction updates the row it wrote instead of adding one, so a transaction
  yields one event per callback and record, with its final values;
- the work of a flush does not multiply with the callbacks: each record's tracked values
  are read once for all callbacks of its model (one query), each value is encoded to JSON
  once per record, and each distinct body (its fields, operation and changed fields) is
  built once per record; a callback's row is that body with its own event id;
- net effect: create then update is one ``create``; create then delete is nothing;
  update then delete is one ``delete``; a value changed and changed back is nothing.

A callback's filter (a domain) is evaluated on flush, for all the flushed records at once: one
search per distinct filter (callbacks with the same filter share it), none for callbacks without
one. Create and update events need the record to match after the change, delete events before the
deletion.

Nothing is sent from here: the rows commit or roll back with the change.

Switching capture off is for server-side code and administrators only: the context key
``account_webhook_no_trigger`` counts only when its value is ``NO_TRIGGER``, an object that no
XML-RPC or JSON-RPC client can send (what a client sends under that key, ``True`` say, is
ignored); ``without_capture(records)`` sets it. The system parameter
``account_webhook.capture_disabled``, which only administrators can set, switches capture off for
everyone, and setting it is logged (see ``models/ir_config_parameter.py``).
"""
import datetime
from contextlib import contextmanager

from odoo import api, models

from .. import params, payload
from ..flags import ServerFlag

DISABLED_PARAM = 'account_webhook.capture_disabled'
NO_TRIGGER = ServerFlag('account_webhook_no_trigger')  # raised: changes write no outbox rows
NO_TRIGGER_KEY = NO_TRIGGER.key
without_capture = NO_TRIGGER.on  # server-side code's way to change records without events


class _Transaction(object):
    """What the capture remembers until the current transaction ends."""

    def __init__(self):
        self.depth = 0           # nesting of captured operations
        self.before = {}         # (model, id) -> {field: value} as before the transaction
        self.created = set()     # (model, id) created in this transaction
        self.dirty = {}          # model -> set of ids to look at on flush
        self.deletes = []        # outbox rows of records deleted in this transaction
        self.superseded = []     # event ids of rows that a later deletion made pointless
        self.events = {}         # (callback id, record id) -> event id of the row written for it


def _transaction(cr):
    tx = cr.__dict__.get('_webhook_tx')
    if tx is None:
        tx = cr._webhook_tx = _Transaction()

        def reset():
            cr._webhook_tx = None
        cr.after('commit', reset)
        cr.after('rollback', reset)
    return tx


def _insert_outbox(cr, uid, rows):
    """Write outbox rows ``(callback id, event id, model, record id, operation, payload)`` as
    ``webhook.delivery._enqueue`` does (pending, due now, the log-access columns; a row whose event id
    exists already gets the new payload), in one set-based statement: the rows travel as one array
    per column, so neither the statement nor its parsing grows with one ``VALUES`` tuple per row.
    The rows are inserted in their order (ids follow it)."""
    if not rows:
        return
    now = datetime.datetime.utcnow()
    callback_ids, event_ids, res_models, res_ids, operations, bodies = (list(column) for column in zip(*rows))
    cr.execute("""
        INSERT INTO webhook_delivery (callback_id, event_id, res_model, res_id, operation, payload, state,
                                      attempt_count, next_attempt_at, create_uid, create_date, write_uid, write_date)
        SELECT t.callback_id, t.event_id, t.res_model, t.res_id, t.operation, t.payload, 'pending',
               0, %s, %s, %s, %s, %s
          FROM unnest(%s::int4[], %s::varchar[], %s::varchar[], %s::int4[], %s::varchar[], %s::text[])
               WITH ORDINALITY AS t(callback_id, event_id, res_model, res_id, operation, payload, n)
         ORDER BY t.n
            ON CONFLICT (event_id) DO UPDATE SET payload = EXCLUDED.payload, write_date = EXCLUDED.write_date
    """, (now, uid, now, uid, now, callback_ids, event_ids, res_models, res_ids, operations, bodies))


def _outbox_row(callback, record, operation, values, event_id, timestamp, changed=None):
    """The columns of one webhook_delivery row, as webhook.delivery._enqueue inserts them."""
    return (callback[0], event_id, record._name, record.id, operation,
            payload.dumps(record._name, operation, record.id, values, event_id, timestamp, changed))


class WebhookMixin(models.AbstractModel):
    _name = 'webhook.mixin'
    _description = 'Callback-capable model'

    # Records of this model can be a callback's record model.
    _webhook_capable = True
    # Name of a many2one: changing these records is an update of that record.
    _webhook_parent_field = None

    # -- which callbacks apply -------------------------------------------------------------

    def _webhook_callbacks(self):
        """Active callbacks of this model, or () when capture is off (no query when cached)."""
        if not self._webhook_capable or NO_TRIGGER.raised(self.env):
            return ()
        callbacks = self.env['webhook.callback'].sudo()._active_callbacks(self._name)
        if callbacks and params.switched_off(self.env['ir.config_parameter'].sudo().get_param(DISABLED_PARAM)):
            return ()
        return callbacks

    def _webhook_parent_model(self):
        """The parent model when it has callbacks (see _webhook_parent_field), else None."""
        field = self._webhook_parent_field
        if not field or NO_TRIGGER.raised(self.env):
            return None
        parent_model = self.env[self._fields[field].comodel_name]
        return parent_model if parent_model._webhook_callbacks() else None

    def _webhook_parents(self):
        parent_model = self._webhook_parent_model()
        return None if parent_model is None else self.sudo().mapped(self._webhook_parent_field)

    @staticmethod
    def _webhook_sees(callback, company_id):
        """A callback sees the records of its company and those without a company."""
        return not company_id or company_id == callback[2]

    def _webhook_companies(self):
        """``{id: company id or None}`` (one query; {} when the model has no company)."""
        if 'company_id' not in self._fields or not self._fields['company_id'].column_type:
            return {}
        self.env.cr.execute('SELECT id, company_id FROM "%s" WHERE id IN %%s' % self._table, (tuple(self.ids),))
        return dict(self.env.cr.fetchall())

    def _webhook_matching(self, callbacks, actions=None):
        """``{callback id: set of ids of self that match its filter}`` for the callbacks with a filter
        (of the given ``actions``): one search per distinct filter for all these records (callbacks
        with the same filter share it), none without."""
        matching, found = {}, {}
        for cb in callbacks:
            if cb[4] and self and (actions is None or cb[1] in actions):
                key = repr(cb[4])  # a domain may hold lists: its text is the key
                if key not in found:
                    found[key] = set(self.sudo().with_context(active_test=False)._search(
                        [('id', 'in', self.ids)] + list(cb[4]), order='id'))
                matching[cb[0]] = found[key]
        return matching

    # -- snapshot, mark, flush -------------------------------------------------------------

    def _webhook_touch(self, tx):
        """Snapshot (first touch only) and mark ``self`` dirty.

        Stored columns are snapshotted from the database, not the cache: the cache may
        already hold recomputed values that are about to be written (Odoo 11 writes to
        the database at once, so the columns hold the values from before).
        """
        callbacks = self._webhook_callbacks()
        if not callbacks:
            return
        tracked = sorted({name for cb in callbacks if cb[1] == 'update' for name in cb[3]})
        model_name, before, created = self._name, tx.before, tx.created
        todo = [record_id for record_id in self.ids
                if (model_name, record_id) not in before and (model_name, record_id) not in created]
        if todo and tracked:
            for record_id, values in self.sudo().browse(todo)._webhook_values(tracked).items():
                before[(model_name, record_id)] = values
        tx.dirty.setdefault(self._name, set()).update(self.ids)

    def _webhook_values(self, names):
        """``{id: {name: JSON value}}`` for these records: stored columns straight from the
        database in one query (the ORM would prefetch every column of the model), the
        other fields (one2many, many2many) through the ORM."""
        columns = [name for name in names if self._fields[name].column_type]
        result = {record_id: payload.OrderedDict() for record_id in self.ids}
        if columns:
            self.env.cr.execute('SELECT id, %s FROM "%s" WHERE id IN %%s' % (
                ', '.join('"%s"' % name for name in columns), self._table), (tuple(self.ids),))
            fields = [self._fields[name] for name in columns]
            # the plain fields' values straight from the column, the others through the ORM's conversion
            converters = [payload.column_converter(field) for field in fields]
            for row in self.env.cr.fetchall():
                record = None
                values = result[row[0]]
                for field, convert, raw in zip(fields, converters, row[1:]):
                    if convert is None:
                        record = record or self.browse(row[0])
                        values[field.name] = payload.column_value(record, field, raw)
                    else:
                        values[field.name] = convert(raw)
        others = [name for name in names if name not in columns]
        for record in (self if others else ()):
            result[record.id].update(payload.record_values(record, others))
        return result

    def _webhook_flush(self, tx):
        rows, stale = [], tx.superseded
        tx.superseded = []
        for model_name, ids in sorted(tx.dirty.items()):
            records = self.env[model_name].sudo().browse(sorted(ids)).exists()
            self._webhook_changes(tx, records, rows, stale)
        tx.dirty = {}
        rows += tx.deletes
        tx.deletes = []
        if stale:
            self.env.cr.execute("DELETE FROM webhook_delivery WHERE event_id IN %s AND state = 'pending'",
                                (tuple(stale),))
        _insert_outbox(self.env.cr, self.env.uid, rows)

    def _webhook_changes(self, tx, records, rows, stale):
        """Append the outbox rows of the changes of ``records`` (one model) to ``rows``, in record
        order, then callback order. Nothing here is done once per callback and record but taking
        the body built for the record and adding the event id: values are read and encoded once
        per record, each distinct body (fields, operation, changed fields) built once per record."""
        callbacks = records._webhook_callbacks()
        if not callbacks:
            return
        model_name = records._name
        fields = sorted({name for cb in callbacks for name in cb[3]})
        timestamp = payload.utc_timestamp()
        current = records._webhook_values(fields)
        companies = records._webhook_companies()
        created_ids = {record_id for name, record_id in tx.created if name == model_name}
        actions = {'create' if record_id in created_ids else 'update' for record_id in records.ids}
        matching = records._webhook_matching(callbacks, actions)
        visible = {}  # company id -> the callbacks that see its records
        events = tx.events
        planned = []  # (callback id, record id, operation, body up to the event id), in row order
        for record_id in records.ids:
            company_id = companies.get(record_id)
            if company_id not in visible:
                visible[company_id] = [cb for cb in callbacks if self._webhook_sees(cb, company_id)]
            created = record_id in created_ids
            now = current[record_id]
            before = {} if created else tx.before.get((model_name, record_id), {})
            items = {}  # field name -> its encoded value, once per record
            heads = {}  # (fields, operation, changed fields) -> body up to the event id, once per record
            for cb in visible[company_id]:
                if cb[0] in matching and record_id not in matching[cb[0]]:
                    if (cb[0], record_id) in events:  # it left the filter since this transaction wrote it
                        stale.append(events.pop((cb[0], record_id)))
                    continue
                if cb[1] == 'create' and created:
                    operation, changed = 'create', None
                elif cb[1] == 'update' and not created:
                    operation = 'update'
                    changed = tuple(name for name in cb[3] if name in before and before[name] != now[name])
                    if not changed:
                        if (cb[0], record_id) in events:
                            stale.append(events.pop((cb[0], record_id)))
                        continue
                else:
                    continue
                key = (cb[3], operation, changed)
                head = heads.get(key)
                if head is None:
                    for name in cb[3]:
                        if name not in items:
                            items[name] = payload.encode_item(name, now[name])
                    head = heads[key] = payload.dumps_head(model_name, operation, record_id,
                                                           [items[name] for name in cb[3]], changed)
                planned.append((cb[0], record_id, operation, head))
        # The row is written again even if this transaction wrote the same values before: a
        # savepoint rollback may have removed it since. It keeps its event id.
        new_ids = iter(payload.new_event_ids(sum(1 for cb_id, record_id, _o, _h in planned
                                                 if (cb_id, record_id) not in events)))
        tail = payload.dumps_tail(timestamp)
        for cb_id, record_id, operation, head in planned:
            event_id = events.get((cb_id, record_id)) or next(new_ids)
            events[(cb_id, record_id)] = event_id
            rows.append((cb_id, event_id, model_name, record_id, operation, head + event_id + tail))

    def _webhook_delete_rows(self, tx):
        """Outbox rows for deleting ``self``, with the values read before the deletion.

        Also the keys of ``tx.events`` that the deletion supersedes: what this transaction
        already wrote for these records is dropped once the deletion succeeded.
        """
        callbacks = self._webhook_callbacks()
        rows, superseded = [], []
        timestamp = payload.utc_timestamp()
        deleted = self.sudo()._webhook_values(sorted({name for cb in callbacks if cb[1] == 'delete' for name in cb[3]}))
        companies = self._webhook_companies()
        matching = self._webhook_matching(callbacks, ('delete',))
        for record in self.sudo():
            superseded += [(cb[0], record.id) for cb in callbacks if (cb[0], record.id) in tx.events]
            if (self._name, record.id) in tx.created:
                continue  # created and deleted in one transaction: nothing happened outside
            for cb in callbacks:
                if cb[1] == 'delete' and self._webhook_sees(cb, companies.get(record.id)) \
                        and (cb[0] not in matching or record.id in matching[cb[0]]):
                    values = payload.OrderedDict((name, deleted[record.id][name]) for name in cb[3])
                    rows.append(_outbox_row(cb, record, 'delete', values, payload.new_event_id(), timestamp))
        return rows, superseded

    # -- ORM overrides ----------------------------------------------------------------------

    @contextmanager
    def _webhook_operation(self):
        """A captured operation: nested ones only mark records; the outermost one flushes when it
        succeeds (a failing operation flushes nothing: its changes roll back)."""
        tx = _transaction(self.env.cr)
        tx.depth += 1
        success = False
        try:
            yield tx
            success = True
        finally:
            tx.depth -= 1
            if tx.depth == 0 and success:
                self._webhook_flush(tx)

    @api.model
    def create(self, vals):
        parent_model = self._webhook_parent_model()
        if parent_model is None and not self._webhook_callbacks():
            return super(WebhookMixin, self).create(vals)
        with self._webhook_operation() as tx:
            if parent_model is not None and vals.get(self._webhook_parent_field):
                parent_model.browse(vals[self._webhook_parent_field])._webhook_touch(tx)
            record = super(WebhookMixin, self).create(vals)
            if self._webhook_capable:
                tx.created.add((self._name, record.id))
                record._webhook_touch(tx)
        return record

    @api.multi
    def write(self, vals):
        parents = self._webhook_parents()
        if not self or (parents is None and not self._webhook_callbacks()):
            return super(WebhookMixin, self).write(vals)
        with self._webhook_operation() as tx:
            self._webhook_touch(tx)
            if parents is not None:
                parents._webhook_touch(tx)
            result = super(WebhookMixin, self).write(vals)
            moved_to = self._webhook_parents() if self._webhook_parent_field in vals else None
            if moved_to is not None:
                moved_to._webhook_touch(tx)
        return result

    @api.multi
    def _write(self, vals):
        # Recomputations write stored computed fields here, without write(): capture them too.
        callbacks = self._webhook_callbacks() if self else ()
        if not any(name in vals for cb in callbacks for name in cb[3]):
            return super(WebhookMixin, self)._write(vals)
        with self._webhook_operation() as tx:
            self._webhook_touch(tx)
            result = super(WebhookMixin, self)._write(vals)
        return result

    @api.multi
    def unlink(self):
        parents = self._webhook_parents()
        if not self or (parents is None and not self._webhook_callbacks()):
            return super(WebhookMixin, self).unlink()
        with self._webhook_operation() as tx:
            if parents is not None:
                parents._webhook_touch(tx)
            rows, superseded = self._webhook_delete_rows(tx)
            result = super(WebhookMixin, self).unlink()
            tx.deletes.extend(rows)
            tx.superseded.extend(tx.events.pop(key) for key in superseded)
        return result
