# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""11.0.4.1.0: the unique constraint on a delivery's event id is named for what it is,
``webhook_delivery_event_unique`` (it was ``..._event_callback_unique``, yet never held the
callback). Renamed in place, before the ORM would add it again under the new name: no second
unique index to build over the outbox, and uninstalling drops the constraint by its new name."""


def migrate(cr, version):
    if not version:
        return
    cr.execute("""SELECT 1 FROM pg_constraint WHERE conrelid = 'webhook_delivery'::regclass
                                                AND conname = 'webhook_delivery_event_callback_unique'""")
    if cr.fetchone():
        cr.execute('ALTER TABLE webhook_delivery RENAME CONSTRAINT webhook_delivery_event_callback_unique '
                   'TO webhook_delivery_event_unique')
    cr.execute("""UPDATE ir_model_constraint SET name = 'webhook_delivery_event_unique'
                   WHERE name = 'webhook_delivery_event_callback_unique'""")
