# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Change capture: create / write / unlink of callback-capable models stage events for the outbox.

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
- a flush stages one event per changed record, for all the callbacks it goes to, with a
  single set-based ``INSERT ... SELECT FROM unnest(...)`` into ``webhook_event``
  (``runtime.events``); the deliveries, one per callback, are fanned out from it after the
  transaction (by the dispatchers) or when the transaction reads the outbox. A second flush in
  the same transaction replaces the record's event (its deliveries keep their event ids), so a
  transaction yields one event per callback and record, with its final values;
- the work of a flush does not multiply with the callbacks: each record's tracked values
  are read once for all callbacks of its model (one query) and encoded to JSON once; which
  callbacks get the event (their filters, companies and changed fields) is decided here;
- a save of one record reads nothing when it can (``_webhook_stage_written``): its values are
  predicted from its snapshot and from what ``write()`` wrote, and the event's insert checks
  that the row holds them (else the flush reads them, as above);
- net effect: create then update is one ``create``; create then delete is nothing;
  update then delete is one ``delete``; a value changed and changed back is nothing.

A callback's filter (a domain) is evaluated on flush, for all the flushed records at once: one
search per distinct filter (callbacks with the same filter share it), none for callbacks without
one. Create and update events need the record to match after the change, delete events before the
deletion.

Nothing is sent from here: the events commit or roll back with the change.

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

from .. import payload
from ..flags import ServerFlag
from ..runtime import events, outbox

DISABLED_PARAM = 'account_webhook.capture_disabled'
NO_TRIGGER = ServerFlag('account_webhook_no_trigger')  # raised: changes write no outbox rows
NO_TRIGGER_KEY = NO_TRIGGER.key
without_capture = NO_TRIGGER.on  # server-side code's way to change records without events
# Up to this many records, a save's snapshot is read from Odoo's cache when it holds it (a query
# less); beyond, one query costs less than converting the cached values one by one.
CACHED_SNAPSHOT = 10
# model -> (its callbacks, their _Shape): what a save of one record needs to know of them, worked
# out once per lookup of the callbacks (a new lookup is a new tuple)
_SHAPES = {}


class _Shape(object):
    """What the capture works out of a model's callbacks once: the fields update callbacks track,
    the events' plan, and what a save of one record needs to stage its update event without
    reading the values first (``WebhookMixin._webhook_stage_written``), when it can (``usable``):
    every update callback without a filter, of the same company, tracking plain stored fields only."""

    def __init__(self, model, callbacks):
        self.plan = events.plan(callbacks)
        self.callbacks = [cb for cb in callbacks if cb[1] == 'update']
        self.tracked = sorted({name for cb in self.callbacks for name in cb[3]})
        self.fields = []        # (name, field, conversion, types of its JSON values), by name
        conditions, self.params = [], []
        companies = {cb[2] for cb in self.callbacks}
        has_company = 'company_id' in model._fields and bool(model._fields['company_id'].column_type)
        self.usable = bool(self.callbacks) and all(cb[4] is None for cb in self.callbacks) \
            and (len(companies) == 1 or not has_company)
        for name in self.tracked:
            field = model._fields[name]
            sql = payload.column_sql(field, '"%s"' % name) if field.column_type else None
            if sql is None:
                self.usable = False
                break
            self.fields.append((name, field, payload.column_converter(field), sql[1]))
            conditions.append('%s IS NOT DISTINCT FROM %%s' % sql[0])
        if has_company and self.usable:
            company, = companies  # records of no company or of the callbacks' (see _webhook_sees)
            conditions.append('(company_id IS NULL OR company_id IS NOT DISTINCT FROM %s)')
            self.params.append(company)
        self.conditions = ' AND '.join(conditions)

    @classmethod
    def of(cls, model, callbacks):
        known = _SHAPES.get(model._name)
        if known is None or known[0] is not callbacks:
            known = _SHAPES[model._name] = (callbacks, cls(model, callbacks))
        return known[1]


class _Transaction(object):
    """What the capture remembers until the current transaction ends."""

    def __init__(self):
        self.depth = 0           # nesting of captured operations
        self.before = {}         # (model, id) -> {field: value} as before the transaction
        self.created = set()     # (model, id) created in this transaction
        self.dirty = {}          # model -> set of ids to look at on flush
        self.written = {}        # (model, id) -> what write() wrote on it, for a single record
        self.deletes = []        # events of records deleted in this transaction
        self.keys = {}           # (model, id) -> the key of its events' ids (payload.event_id_of)
        self.included = {}       # (model, id) -> ids of the callbacks its last staged event went to
        self.staged = {}         # (model, id) -> its event row, while not expanded yet
        self.replaced = []       # event rows to delete: a later flush or deletion replaced them
        self.withdrawn = []      # event ids whose pending deliveries a later flush or deletion took back
        self.expanded = False    # whether this transaction expanded events (its deliveries exist)

    def take_back(self, record_key, keep=()):
        """A record's staged event is replaced, and its deliveries of callbacks not in ``keep``
        withdrawn, if this transaction expanded them."""
        if record_key in self.staged:
            self.replaced.append(self.staged.pop(record_key))
        if self.expanded:
            self.withdrawn += [payload.event_id_of(self.keys[record_key], callback_id)
                               for callback_id in self.included.get(record_key, ()) if callback_id not in keep]
        self.included.pop(record_key, None)


def _transaction(cr):
    tx = cr.__dict__.get('_webhook_tx')
    if tx is None:
        tx = cr._webhook_tx = _Transaction()

        def reset():
            cr._webhook_tx = None
        cr.after('commit', reset)
        cr.after('rollback', reset)
    return tx


def expand_own(cr):
    """Fan out the events this transaction staged and did not expand yet (no other transaction
    sees them: no lock); a dispatcher's own cursor has none."""
    tx = getattr(cr, '_webhook_tx', None)
    if tx and tx.staged:
        events.expand(cr, own=sorted(tx.staged.values()))
        tx.staged = {}
        tx.expanded = True


events.expand_own = expand_own


class WebhookMixin(models.AbstractModel):
    _name = 'webhook.mixin'
    _description = 'Callback-capable model'

    # Records of this model can be a callback's record model.
    _webhook_capable = True
    # Name of a many2one: changing these records is an update of that record.
    _webhook_parent_field = None

    # -- which callbacks apply -------------------------------------------------------------

    def _webhook_callbacks(self):
        """Active callbacks of this model, or () when capture is off (no query when cached; the
        lookup reads the callbacks and the system parameter in SQL, whoever the user is)."""
        if not self._webhook_capable or NO_TRIGGER.raised(self.env):
            return ()
        return self.env['webhook.callback']._active_callbacks(self._name)

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

    @staticmethod
    def _webhook_changed(before, now):
        """The fields whose value ``now`` differs from the snapshot ``before`` (those it has)."""
        return {name for name, value in now.items() if name in before and before[name] != value}

    @staticmethod
    def _webhook_recipients(callbacks, record_id, changed, matching):
        """The ids of ``callbacks`` (those that see the record, of its operation) its event goes to:
        those whose filter it matches (``matching``, see _webhook_matching) and, for an update
        (``changed`` not None), that track a changed field."""
        return tuple(cb[0] for cb in callbacks
                     if (cb[0] not in matching or record_id in matching[cb[0]])
                     and (changed is None or any(name in changed for name in cb[3])))

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

    def _webhook_touch(self, tx, cached=False):
        """Snapshot (first touch only) and mark ``self`` dirty.

        Stored columns are snapshotted from the database: in ``_write`` the cache may already
        hold recomputed values that are about to be written (Odoo 11 writes to the database at
        once, so the columns hold the values from before). ``cached`` (``write`` and the other
        operations, before they change anything): up to ``CACHED_SNAPSHOT`` records from Odoo's
        cache when it holds them all, as read from the database (none waiting for a
        recomputation), which saves a form's save a query; else from the database.
        """
        callbacks = self._webhook_callbacks()
        if not callbacks:
            return
        tracked = _Shape.of(self, callbacks).tracked
        model_name, before, created = self._name, tx.before, tx.created
        todo = [record_id for record_id in self.ids
                if (model_name, record_id) not in before and (model_name, record_id) not in created]
        if todo and tracked:
            records = self.browse(todo)
            snapshot = (cached and len(todo) <= CACHED_SNAPSHOT and records._webhook_cached_values(tracked)) \
                or records.sudo()._webhook_values(tracked)
            for record_id, values in snapshot.items():
                before[(model_name, record_id)] = values
        tx.dirty.setdefault(self._name, set()).update(self.ids)

    def _webhook_cached_values(self, names):
        """``_webhook_values`` from Odoo's cache, or None unless the cache holds every stored column
        of ``names`` for every record, none waiting for a recomputation (a value computed but not
        written yet)."""
        cache, todo = self.env.cache, self.env.all.todo
        fields = [self._fields[name] for name in names if self._fields[name].column_type]
        if any(field in todo and any(records & self for records in todo[field]) for field in fields):
            return None
        result = {}
        for record in self:
            values = result[record.id] = payload.OrderedDict()
            for field in fields:
                if not cache.contains_value(record, field):
                    return None
                values[field.name] = payload.cached_value(record, field, cache.get(record, field))
        others = [name for name in names if not self._fields[name].column_type]
        for record in (self.sudo() if others else ()):
            result[record.id].update(payload.record_values(record, others))
        return result

    def _webhook_values(self, names, companies=None):
        """``{id: {name: JSON value}}`` for those of these records that exist: stored columns
        straight from the database in one query (the ORM would prefetch every column of the model),
        the other fields (one2many, many2many) through the ORM. ``companies``: a dict the same query
        fills with ``{id: company id or None}`` when the model has a company."""
        columns = [name for name in names if self._fields[name].column_type]
        company = companies is not None and 'company_id' in self._fields \
            and bool(self._fields['company_id'].column_type)
        self.env.cr.execute('SELECT %s FROM "%s" WHERE id IN %%s' % (
            ', '.join(['id'] + ['company_id'] * company + ['"%s"' % name for name in columns]), self._table),
            (tuple(self.ids),))
        fields = [self._fields[name] for name in columns]
        # the plain fields' values straight from the column, the others through the ORM's conversion
        converters = [payload.column_converter(field) for field in fields]
        result = {}
        for row in self.env.cr.fetchall():
            if company:
                companies[row[0]] = row[1]
            record = None
            values = result[row[0]] = payload.OrderedDict()
            for field, convert, raw in zip(fields, converters, row[1 + company:]):
                if convert is None:
                    record = record or self.browse(row[0])
                    values[field.name] = payload.column_value(record, field, raw)
                else:
                    values[field.name] = convert(raw)
        others = [name for name in names if name not in columns]
        for record in (self.browse(sorted(result)) if others else ()):
            result[record.id].update(payload.record_values(record, others))
        return result

    def _webhook_flush(self, tx):
        written, tx.written = tx.written, {}
        if len(tx.dirty) == 1 and not (tx.deletes or tx.replaced or tx.withdrawn):
            (model_name, ids), = tx.dirty.items()
            if len(ids) == 1 and self.env[model_name].browse(min(ids))._webhook_stage_written(tx, written):
                tx.dirty = {}
                return
        staged = []
        for model_name, ids in sorted(tx.dirty.items()):
            self._webhook_changes(tx, self.env[model_name].sudo().browse(sorted(ids)), staged)
        tx.dirty = {}
        staged += tx.deletes
        tx.deletes = []
        replaced, tx.replaced = tx.replaced, []
        withdrawn, tx.withdrawn = tx.withdrawn, []
        outbox.withdraw(self.env.cr, withdrawn)
        for event in staged:
            tx.included[(event[0], event[1])] = event[4]
        tx.staged.update(events.stage(self.env.cr, self.env.uid, datetime.datetime.utcnow(), staged, replaced))

    def _webhook_stage_written(self, tx, written):
        """A save of one record (``self``), in one statement: its values predicted from its snapshot
        and what ``write()`` wrote (``written``), its update event staged if its row holds them
        (``runtime.events.stage_verified``). Returns whether it did; when it did not (the record is
        new, has filters or fields of other kinds, was changed in another way, lower layers wrote
        other values, its values did not change...), the flush reads the values and stages what
        they give, as for any number of records."""
        key = (self._name, self.id)
        before, written = tx.before.get(key), written.get(key)
        if before is None or written is None or key in tx.included or key in tx.created:
            return False
        shape = _Shape.of(self, self._webhook_callbacks())
        if not shape.usable:
            return False
        predicted = payload.OrderedDict()
        for name, field, convert, types in shape.fields:
            if name in written:
                try:
                    value = convert(field.convert_to_column(written[name], self, written))
                except (TypeError, ValueError):  # not what the column got: the checked statement would say so
                    return False
            elif name in before:
                value = before[name]
            else:  # the callbacks changed since the snapshot
                return False
            if type(value) not in types:
                return False
            predicted[name] = value
        changed = self._webhook_changed(before, predicted)
        callback_ids = self._webhook_recipients(shape.callbacks, self.id, changed, {})
        if not callback_ids:
            return False
        event, = self._webhook_events(tx, [(self.id, 'update', callback_ids, changed)], shape.plan,
                                      {self.id: predicted}, payload.utc_timestamp())
        row_id = events.stage_verified(self.env.cr, self.env.uid, datetime.datetime.utcnow(), event,
                                       self._table, shape.conditions, list(predicted.values()) + shape.params)
        if not row_id:
            return False
        tx.included[key] = callback_ids
        tx.staged[key] = row_id
        return True

    def _webhook_events(self, tx, planned, plan, values, timestamp):
        """The events ``(record id, operation, callback ids, changed fields or None)`` of records of this
        model, for ``runtime.events.stage``, with the keys their ids come from (new ones made at once)."""
        model_name, keys = self._name, tx.keys
        fresh = iter(payload.new_keys(sum(1 for event in planned if (model_name, event[0]) not in keys)))
        staged = []
        for record_id, operation, callback_ids, changed in planned:
            key = keys.get((model_name, record_id))
            if key is None:
                key = keys[(model_name, record_id)] = next(fresh)
            staged.append((model_name, record_id, operation, key, callback_ids, plan, payload.encode(values[record_id]),
                           None if changed is None else payload.encode(sorted(changed)), timestamp))
        return staged

    def _webhook_changes(self, tx, records, staged):
        """Append the events of the changes of ``records`` (one model; those deleted since are left
        out) to ``staged``, one per record (in record order) for all the callbacks it goes to: values
        are read once (with the records' companies, one query) and encoded once per record; the
        deliveries, one per callback, come from it (``runtime.events``)."""
        callbacks = records._webhook_callbacks()
        if not callbacks:
            return
        model_name = records._name
        fields = sorted({name for cb in callbacks for name in cb[3]})
        companies = {}
        current = records._webhook_values(fields, companies)
        records = records.browse(sorted(current))
        created_ids = {record_id for name, record_id in tx.created if name == model_name}
        actions = {'create' if record_id in created_ids else 'update' for record_id in records.ids}
        matching = records._webhook_matching(callbacks, actions)
        visible = {}  # (company id, operation) -> the callbacks of the operation that see its records
        planned = []
        for record_id in records.ids:
            company_id = companies.get(record_id)
            operation = 'create' if record_id in created_ids else 'update'
            if (company_id, operation) not in visible:
                visible[(company_id, operation)] = [cb for cb in callbacks if cb[1] == operation
                                                    and self._webhook_sees(cb, company_id)]
            changed = None
            if operation == 'update':
                changed = self._webhook_changed(tx.before.get((model_name, record_id), {}), current[record_id])
            callback_ids = self._webhook_recipients(visible[(company_id, operation)], record_id, changed, matching)
            # what this transaction wrote for the record before is replaced (it keeps its event ids)
            tx.take_back((model_name, record_id), keep=callback_ids)
            if callback_ids:
                planned.append((record_id, operation, callback_ids, changed))
        staged += records._webhook_events(tx, planned, _Shape.of(records, callbacks).plan, current,
                                          payload.utc_timestamp())

    def _webhook_delete_events(self, tx):
        """The events of deleting ``self``, with the values read before the deletion."""
        callbacks = [cb for cb in self._webhook_callbacks() if cb[1] == 'delete']
        if not callbacks:
            return []
        companies = {}
        deleted = self.sudo()._webhook_values(sorted({name for cb in callbacks for name in cb[3]}), companies)
        matching = self._webhook_matching(callbacks)
        planned = []
        for record_id in self.ids:
            if (self._name, record_id) in tx.created:
                continue  # created and deleted in one transaction: nothing happened outside
            callback_ids = tuple(cb[0] for cb in callbacks if self._webhook_sees(cb, companies.get(record_id))
                                 and (cb[0] not in matching or record_id in matching[cb[0]]))
            if callback_ids:
                planned.append((record_id, 'delete', callback_ids, None))
        return self._webhook_events(tx, planned, events.plan(callbacks), deleted, payload.utc_timestamp())

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
                parent_model.browse(vals[self._webhook_parent_field])._webhook_touch(tx, cached=True)
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
            self._webhook_touch(tx, cached=True)
            if len(self._ids) == 1:  # a save: what it writes predicts the values (_webhook_stage_written)
                tx.written.setdefault((self._name, self.id), {}).update(vals)
            if parents is not None:
                parents._webhook_touch(tx, cached=True)
            result = super(WebhookMixin, self).write(vals)
            moved_to = self._webhook_parents() if self._webhook_parent_field in vals else None
            if moved_to is not None:
                moved_to._webhook_touch(tx)
        return result

    @api.multi
    def _write(self, vals):
        # Recomputations write stored computed fields here, without write(): capture them too.
        tx = self.env.cr.__dict__.get('_webhook_tx')
        dirty = tx.dirty.get(self._name) if tx is not None and tx.depth else None
        if dirty is not None and dirty.issuperset(self.ids):
            return super(WebhookMixin, self)._write(vals)  # write() snapshotted them: its flush reads them
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
                parents._webhook_touch(tx, cached=True)
            deletes = self._webhook_delete_events(tx)
            result = super(WebhookMixin, self).unlink()
            for record_id in self.ids:  # what this transaction wrote for them is dropped
                tx.take_back((self._name, record_id))
            tx.deletes.extend(deletes)
        return result
