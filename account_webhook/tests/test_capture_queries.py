# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Capture at batch scale (issue 25): what a write costs does not multiply with the callbacks."""
import json
import re
from collections import OrderedDict
from unittest import mock

from .. import payload
from ..models.webhook_mixin import WebhookMixin, without_capture
from .common import WebhookCase

UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')
FILTER = "[('is_company', '=', True)]"
# what the callbacks of these tests track: each tracks 'email', which the writes change
FIELD_SETS = (('email', 'phone'), ('email', 'city', 'zip'), ('comment', 'email', 'website'), ('email', 'name'),
              ('email', 'street'), ('email', 'mobile', 'ref'), ('email', 'function', 'vat'), ('email', 'lang'),
              ('email', 'is_company', 'user_id'), ('email', 'title'))


class TestCaptureQueries(WebhookCase):

    @classmethod
    def setUpFixtures(cls):
        super(TestCaptureQueries, cls).setUpFixtures()
        Partner = cls.env['res.partner']
        cls.partners = Partner.browse([Partner.create({
            'name': 'Batch %d' % i, 'email': 'b%d@example.com' % i, 'is_company': i % 2 == 0,
            'comment': 'Notes, "quoted" – ąčę %d' % i}).id for i in range(12)])
        cls.other = Partner.create({'name': 'Warm-up contact'})

    def setUp(self):
        super(TestCaptureQueries, self).setUp()
        self.made = {}  # the callbacks made by this test (each test's records roll back after it)

    def activate(self, count, filter_domain=False, field_sets=FIELD_SETS):
        """Exactly ``count`` active update callbacks of contacts, each tracking its own fields."""
        self.Callback.search([]).write({'active': False})
        callbacks = self.Callback.browse()
        for i in range(count):
            fields = field_sets[i % len(field_sets)]
            key = (i, fields, filter_domain)
            if key not in self.made:
                self.made[key] = self.make_callback(action='update', fields=fields, filter_domain=filter_domain,
                                                    name='queries %d %s' % (i, bool(filter_domain)))
            callbacks |= self.made[key].with_context(active_test=False)
        callbacks.write({'active': True})
        return callbacks

    def capture_queries(self, count, filter_domain=False):
        """(queries of a write on the contacts with ``count`` matching callbacks, queries of the same
        write without capture); checks the events written."""
        callbacks = self.activate(count, filter_domain)
        # untimed: the callback lookup and what the writes read once are cached as in steady use
        self.other.write({'email': 'warm%d@example.com' % count})
        self.partners.write({'email': 'warm%d@example.com' % count})
        without_capture(self.partners).write({'email': 'warm-none%d@example.com' % count})
        self.new_transaction()
        cr = self.env.cr
        self.partners.invalidate_cache()
        start = cr.sql_log_count
        without_capture(self.partners).write({'email': 'none%d@example.com' % count})
        without = cr.sql_log_count - start
        self.new_transaction()
        self.partners.invalidate_cache()
        last = self.Delivery.search([], limit=1, order='id desc').id or 0
        start = cr.sql_log_count
        self.partners.write({'email': 'with%d@example.com' % count})
        queries = cr.sql_log_count - start
        matching = self.partners.filtered('is_company') if filter_domain else self.partners
        written = self.Delivery.search([('id', '>', last)])
        self.assertEqual(len(written), count * len(matching))
        by_callback = {}
        for delivery in written:
            by_callback.setdefault(delivery.callback_id.id, []).append(delivery.res_id)
        self.assertEqual({callback_id: sorted(res_ids) for callback_id, res_ids in by_callback.items()},
                         {callback.id: sorted(matching.ids) for callback in callbacks})
        return queries, without

    def assert_bounded(self, filter_domain, capture_queries):
        measured = {count: self.capture_queries(count, filter_domain) for count in (1, 3, 10)}
        queries = {count: with_capture for count, (with_capture, _without) in measured.items()}
        self.assertEqual(queries[1], queries[3], measured)
        self.assertEqual(queries[1], queries[10], measured)
        # capture's own: the snapshot, the values of the records that still exist with their
        # companies, [the filter's search,] the events' insert
        self.assertLessEqual(queries[10] - min(without for _with, without in measured.values()),
                             capture_queries, measured)

    def test_a_write_matching_10_callbacks_issues_as_many_queries_as_with_1(self):
        self.assert_bounded(False, 3)

    def test_callbacks_with_the_same_filter_share_one_search(self):
        self.assert_bounded(FILTER, 4)

    def test_each_distinct_body_is_built_once_per_record(self):
        same = [('email', 'phone')]
        self.activate(10, field_sets=same)
        self.new_transaction()
        built = []
        original = payload.dumps_head

        def recording(*args, **kwargs):
            built.append(args[2])
            return original(*args, **kwargs)
        with mock.patch.object(payload, 'dumps_head', recording), \
                mock.patch.object(payload, 'dumps', side_effect=AssertionError('a body built per callback')):
            self.partners.write({'phone': '+370 600 12345'})
            self.assertEqual(built, [])  # the write staged one event per contact; the fan-out builds them
            rows = self.Delivery.search([('res_id', 'in', self.partners.ids), ('res_model', '=', 'res.partner')])
        # 10 callbacks, one body per contact, 10 rows per contact with their own event ids
        self.assertEqual(sorted(built), sorted(self.partners.ids))
        self.assertEqual(len(rows), 10 * len(self.partners))
        self.assertEqual(len(set(rows.mapped('event_id'))), len(rows))

    def test_bodies_are_byte_for_byte_what_payload_dumps_writes(self):
        callbacks = self.activate(10)
        self.new_transaction()
        self.partners.write({'email': 'ąžuolas@example.com', 'phone': '1'})
        self.partners[:3].write({'comment': 'ünïcode ✓ "and" \\ back\nslash', 'website': 'https://x.example'})
        checked = 0
        for callback in callbacks:
            for delivery in self.deliveries(callback):
                body = json.loads(delivery.payload, object_pairs_hook=OrderedDict)
                self.assertRegex(body['event_id'], UUID)
                self.assertEqual(delivery.event_id, body['event_id'])
                expected = payload.dumps(body['object'], body['operation'], body['id'], body['values'],
                                         body['event_id'], body['timestamp'], body.get('changed'))
                self.assertEqual(delivery.payload, expected)
                self.assertEqual(list(body['values']), sorted(callback.field_ids.mapped('name')))
                checked += 1
        self.assertEqual(checked, 10 * len(self.partners))

    def test_the_plain_fields_read_from_columns_as_the_orm_converts_them(self):
        Partner = self.env['res.partner']
        partner = Partner.create({'name': 'Columns', 'email': '', 'phone': 'ąč', 'comment': False, 'color': 0,
                                  'is_company': True, 'lang': False, 'title': False})
        names = ['active', 'city', 'color', 'comment', 'country_id', 'email', 'function', 'is_company', 'lang',
                 'name', 'parent_id', 'phone', 'title', 'type', 'user_id', 'website']
        for name in names:
            field = Partner._fields[name]
            convert = payload.column_converter(field)
            self.assertIsNotNone(convert, name)
            self.env.cr.execute('SELECT "%s" FROM res_partner WHERE id = %%s' % name, (partner.id,))
            raw = self.env.cr.fetchone()[0]
            for value in (raw, None):
                self.assertEqual(convert(value), payload.column_value(partner, field, value), (name, value))
        self.assertIsNone(payload.column_converter(Partner._fields['date']))  # through the ORM
        self.assertIsNone(payload.column_converter(self.env['account.invoice']._fields['amount_total']))

    def test_event_ids_are_random_uuid4_the_same_for_a_key_and_callback(self):
        keys = payload.new_keys(1000)
        self.assertEqual(len(set(keys)), 1000)
        ids = [payload.event_id_of(key, callback_id) for key in keys for callback_id in (1, 2, 1000000)]
        self.assertEqual(len(set(ids)), 3000)
        for event_id in ids:
            self.assertRegex(event_id, UUID)
        self.assertEqual({event_id[19] for event_id in ids}, set('89ab'))
        self.assertEqual(payload.event_id_of(keys[0], 7), payload.event_id_of(keys[0], 7))
        self.assertEqual(payload.new_keys(0), [])

    def staged_events(self):
        self.env.cr.execute('SELECT count(*), COALESCE(sum(cardinality(callback_ids)), 0) FROM webhook_event')
        return self.env.cr.fetchone()

    def test_a_write_stages_one_event_per_record_fanned_out_when_the_outbox_is_read(self):
        callbacks = self.activate(10)
        self.new_transaction()
        before = self.staged_events()
        self.partners.write({'email': 'staged@example.com'})
        staged = self.staged_events()
        # one row per contact, for the 10 callbacks: not one per callback
        self.assertEqual((staged[0] - before[0], staged[1] - before[1]), (12, 120))
        rows = self.Delivery.search([('callback_id', 'in', callbacks.ids), ('res_id', 'in', self.partners.ids)])
        self.assertEqual(len(rows), 120)
        self.assertEqual(self.staged_events(), (0, 0))
        # in record order, then callback order, as the capture wrote them before events were staged
        self.assertEqual([(d.res_id, d.callback_id.id) for d in rows.sorted('id')],
                         [(p, c) for p in sorted(self.partners.ids) for c in sorted(callbacks.ids)])

    def test_a_change_after_the_outbox_was_read_updates_the_same_deliveries(self):
        callbacks = self.activate(3)
        self.new_transaction()
        partner = self.partners[0]
        partner.write({'email': 'first@example.com'})
        first = self.Delivery.search([('callback_id', 'in', callbacks.ids), ('res_id', '=', partner.id)])
        self.assertEqual(len(first), 3)
        ids = {d.id: d.event_id for d in first}
        partner.write({'email': 'second@example.com'})
        self.Delivery.invalidate_cache()
        second = self.Delivery.search([('callback_id', 'in', callbacks.ids), ('res_id', '=', partner.id)])
        self.assertEqual({d.id: d.event_id for d in second}, ids)  # one event per callback, its id kept
        for delivery in second:
            self.assertEqual(json.loads(delivery.payload)['values']['email'], 'second@example.com')

    def test_a_record_that_left_the_filter_after_the_outbox_was_read_withdraws_its_delivery(self):
        [callback] = self.activate(1, filter_domain=FILTER)
        self.new_transaction()
        company = self.partners.filtered('is_company')[0]
        company.write({'email': 'in@example.com'})
        self.assertEqual(len(self.deliveries(callback).filtered(lambda d: d.res_id == company.id)), 1)
        company.write({'is_company': False, 'email': 'out@example.com'})
        self.Delivery.invalidate_cache()
        self.assertFalse(self.deliveries(callback).filtered(lambda d: d.res_id == company.id))

    def test_a_save_after_the_form_read_the_record_snapshots_from_the_cache(self):
        [callback] = self.activate(1, field_sets=[('email', 'phone')])
        partner = self.partners[1]
        partner.write({'email': 'warm@example.com'})  # the callback lookup cached
        original = WebhookMixin._webhook_values

        def save(phone, form_read):
            """The records whose values the capture read from the database."""
            self.new_transaction()
            partner.invalidate_cache()
            if form_read:
                partner.mapped('name')  # the form read the record: its columns are in the cache
            read = []

            def recording(records, *args, **kwargs):
                read.append(records.ids)
                return original(records, *args, **kwargs)
            with mock.patch.object(WebhookMixin, '_webhook_values', recording):
                partner.write({'phone': phone, 'email': 'warm@example.com'})
            return read
        self.assertEqual(save('+370 1', False), [partner.ids, partner.ids])  # the snapshot, then the values
        self.assertEqual(save('+370 2', True), [partner.ids])  # the values only: the snapshot from the cache
        [delivery] = self.deliveries(callback).filtered(lambda d: d.res_id == partner.id)[-1:]
        body = json.loads(delivery.payload)
        self.assertEqual((body['changed'], body['values']['phone']), (['phone'], '+370 2'))
