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
- a flush writes one outbox row per (callback, record) with a single multi-row
  ``INSERT ... ON CONFLICT (event_id) DO UPDATE``: a second flush in the same
  transaction updates the row it wrote instead of adding one, so a transaction
  yields one event per callback and record, with its final values;
- net effect: create then update is one ``create``; create then delete is nothing;
  update then delete is one ``delete``; a value changed and changed back is nothing.

A callback's filter (a domain) is evaluated on flush, for all the flushed records at once: one
search per callback with a filter, none for callbacks without one. Create and update events
need the record to match after the change, delete events before the deletion.

Nothing is sent from here: the rows commit or roll back with the change.

Switching capture off is for server-side code and administrators only: the context key
``account_webhook_no_trigger`` counts only when its value is ``NO_TRIGGER``, an object that no
XML-RPC or JSON-RPC client can send (what a client sends under that key, ``True`` say, is
ignored); ``without_capture(records)`` sets it. The system parameter
``account_webhook.capture_disabled``, which only administrators can set, switches capture off for
everyone, and setting it is logged (see ``models/ir_config_parameter.py``).
"""
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
        (of the given ``actions``): one search per such callback for all these records, none without."""
        matching = {}
        for cb in callbacks:
            if cb[4] and self and (actions is None or cb[1] in actions):
                matching[cb[0]] = set(self.sudo().with_context(active_test=False)._search(
                    [('id', 'in', self.ids)] + list(cb[4]), order='id'))
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
        todo = self.sudo().filtered(lambda r: (r._name, r.id) not in tx.before and (r._name, r.id) not in tx.created)
        if todo and tracked:
            for record_id, values in todo._webhook_values(tracked).items():
                tx.before[(self._name, record_id)] = values
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
            for row in self.env.cr.fetchall():
                record = self.browse(row[0])
                result[row[0]].update((field.name, payload.column_value(record, field, raw))
                                      for field, raw in zip(fields, row[1:]))
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
        self.env['webhook.delivery']._enqueue(rows, stale)

    def _webhook_changes(self, tx, records, rows, stale):
        callbacks = records._webhook_callbacks()
        if not callbacks:
            return
        fields = sorted({name for cb in callbacks for name in cb[3]})
        timestamp = payload.utc_timestamp()
        current = records._webhook_values(fields)
        companies = records._webhook_companies()
        created_ids = {record_id for model_name, record_id in tx.created if model_name == records._name}
        actions = {'create' if record_id in created_ids else 'update' for record_id in records.ids}
        matching = records._webhook_matching(callbacks, actions)
        for record in records:
            key = (record._name, record.id)
            created = key in tx.created
            now = current[record.id]
            for cb in callbacks:
                if not self._webhook_sees(cb, companies.get(record.id)):
                    continue
                if cb[0] in matching and record.id not in matching[cb[0]]:
                    if (cb[0], record.id) in tx.events:  # it left the filter since this transaction wrote it
                        stale.append(tx.events.pop((cb[0], record.id)))
                    continue
                values = payload.OrderedDict((name, now[name]) for name in cb[3])
                if cb[1] == 'create' and created:
                    self._webhook_row(tx, rows, cb, record, 'create', values, timestamp)
                elif cb[1] == 'update' and not created:
                    before = tx.before.get(key, {})
                    changed = [name for name in cb[3] if name in before and before[name] != now[name]]
                    if changed:
                        self._webhook_row(tx, rows, cb, record, 'update', values, timestamp, changed)
                    elif (cb[0], record.id) in tx.events:
                        stale.append(tx.events.pop((cb[0], record.id)))

    @staticmethod
    def _webhook_row(tx, rows, cb, record, operation, values, timestamp, changed=None):
        # The row is written again even if this transaction wrote the same values before:
        # a savepoint rollback may have removed it since.
        event_id = tx.events.get((cb[0], record.id)) or payload.new_event_id()
        tx.events[(cb[0], record.id)] = event_id
        rows.append(_outbox_row(cb, record, operation, values, event_id, timestamp, changed))

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
