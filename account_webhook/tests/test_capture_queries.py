# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Capture at batch scale (issue 25): what a write costs does not multiply with the callbacks."""
import json
import re
from collections import OrderedDict
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .. import payload
from ..models.webhook_mixin import WebhookMixin, without_capture
from .common import WebhookCase

UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')
FILTER = "[('is_company', '=', True)]"
# what the callbacks of these tests track: each tracks 'email', which the writes change
FIELD_SETS = (('email', 'phone'), ('email', 'city', 'zip'), ('comment', 'email', 'website'), ('email', 'name'),
              ('email', 'street'), ('email', 'mobile', 'ref'), ('email', 'function', 'vat'), ('email', 'lang'),
              ('email', 'is_company', 'user_id'), ('email', 'title'))
TEXT = st.text(alphabet=st.characters(blacklist_characters='\x00', blacklist_categories=('Cs',)), max_size=6)
# a column's raw values (as psycopg2 reads them) and the SQL type to cast them to, by field class
RAW = {'Char': (st.none() | TEXT, 'varchar'), 'Text': (st.none() | TEXT, 'text'),
       'Integer': (st.none() | st.integers(-2 ** 31, 2 ** 31 - 1), 'int4'),
       'Boolean': (st.none() | st.booleans(), 'bool'),
       'Selection': (st.none() | st.sampled_from(['', 'contact', 'invoice']) | TEXT, 'varchar'),
       'Many2one': (st.none() | st.integers(0, 2 ** 31 - 1), 'int4')}
JSON_OF_TYPE = {str: TEXT, int: st.integers(-2 ** 33, 2 ** 33), bool: st.booleans(), type(None): st.none()}


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

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def test_the_checked_columns_equal_a_value_exactly_when_their_conversion_gives_it(self, data):
        # what lets a save stage the values it predicted: its statement's check (payload.column_sql)
        # holds exactly when reading the column would have given those values
        field = data.draw(st.sampled_from([self.env[model]._fields[name] for model, name in (
            ('res.partner', 'email'), ('res.country', 'code'), ('res.partner', 'comment'), ('res.partner', 'color'),
            ('res.partner', 'is_company'), ('res.partner', 'type'), ('res.partner', 'title'))]))
        raw_values, sql_type = RAW[type(field).__name__]
        raw = data.draw(raw_values)
        convert = payload.column_converter(field)
        expression, types = payload.column_sql(field, 'col')
        value = data.draw(st.just(convert(raw)) | st.one_of(*[JSON_OF_TYPE[kind] for kind in types]))
        self.assertIn(type(convert(raw)), types)
        # pylint: disable-next=sql-injection  # the expression and the type: constants of the test
        self.env.cr.execute('SELECT %s IS NOT DISTINCT FROM %%s FROM (SELECT CAST(%%s AS %s) AS col) AS t' % (
            expression, sql_type), (value, raw))
        self.assertEqual(self.env.cr.fetchone()[0], convert(raw) == value, (field.name, raw, value))

    def recorded_save(self, partner, vals, form_read=True):
        """Save ``vals`` on one contact in a new transaction: (the records whose values the capture
        read from the database, the queries the save issued beyond the same save without capture)."""
        original = WebhookMixin._webhook_values
        counts, read = {}, []

        def recording(records, *args, **kwargs):
            read.append(records.ids)
            return original(records, *args, **kwargs)
        # the second of each counts (what the first read is cached); only the last is kept
        for run, capture in enumerate((False, True, False, True)):
            self.new_transaction()
            partner.invalidate_cache()
            if form_read:
                partner.mapped('name')  # the form read the record: its columns are in the cache
            del read[:]
            self.env.cr.execute('SAVEPOINT recorded_save')
            start = self.env.cr.sql_log_count
            with mock.patch.object(WebhookMixin, '_webhook_values', recording):
                (partner if capture else without_capture(partner)).write(vals)
            counts[capture] = self.env.cr.sql_log_count - start
            if run < 3:
                self.env.cr.execute('ROLLBACK TO SAVEPOINT recorded_save')
        return read, counts[True] - counts[False]

    def last_body(self, callback, partner):
        [delivery] = self.deliveries(callback).filtered(lambda d: d.res_id == partner.id)[-1:]
        return json.loads(delivery.payload)

    def test_a_save_after_the_form_read_the_record_snapshots_from_the_cache(self):
        [callback] = self.activate(1, field_sets=[('email', 'phone')])
        partner = self.partners[1]
        partner.write({'email': 'warm@example.com'})  # the callback lookup cached
        # not read: the snapshot from the database; the values predicted from it and from what was written
        self.assertEqual(self.recorded_save(partner, {'phone': '+370 1'}, form_read=False), ([partner.ids], 2))
        # read: the snapshot from the cache
        self.assertEqual(self.recorded_save(partner, {'phone': '+370 2'}), ([], 1))
        body = self.last_body(callback, partner)
        self.assertEqual((body['changed'], body['values']), (['phone'], {'email': 'warm@example.com',
                                                                         'phone': '+370 2'}))

    def test_a_save_stages_its_event_in_one_checked_statement(self):
        callbacks = self.activate(3)
        partner = self.partners[2]
        partner.write({'email': 'warm@example.com'})
        self.env.cr.execute('UPDATE res_partner SET is_company = NULL, color = NULL WHERE id = %s', (partner.id,))
        self.activate(3, field_sets=[('email', 'is_company', 'color'), ('email', 'title', 'comment'),
                                     ('email', 'type', 'name')])
        for vals in ({'email': 'one@example.com'}, {'email': 'ąž "q" \\ \n', 'comment': False},
                     {'email': False, 'title': self.env.ref('base.res_partner_title_madam').id, 'type': 'invoice'}):
            read, queries = self.recorded_save(partner, vals)
            self.assertEqual((read, queries), ([], 1), vals)  # the event's insert only
            values = partner._webhook_values(['color', 'comment', 'email', 'is_company', 'name', 'title', 'type'])
            for callback in self.made.values():
                if callback.active:
                    body = self.last_body(callback, partner)
                    self.assertEqual(body['values'], {name: values[partner.id][name] for name in body['values']})
                    self.assertEqual(body['changed'], sorted(set(vals) & set(body['values'])))
        self.assertTrue(callbacks)

    def test_a_save_whose_row_holds_other_values_than_it_wrote_reads_them(self):
        # what a lower layer, a recomputation or a database trigger may do: here a trigger (rolled
        # back with the test) stores e-mail addresses in lower case
        self.env.cr.execute("""
            CREATE FUNCTION pg_temp.lower_email() RETURNS trigger AS $$
            BEGIN NEW.email := lower(NEW.email); RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_lower_email BEFORE UPDATE ON res_partner
                FOR EACH ROW EXECUTE PROCEDURE pg_temp.lower_email()""")
        [callback] = self.activate(1, field_sets=[('email', 'phone')])
        partner = self.partners[3]
        partner.write({'email': 'warm@example.com'})
        read, queries = self.recorded_save(partner, {'email': 'Ona.Zemaite@Example.com', 'phone': '+370 3'})
        # the checked insert, which found other values in the row; then the values, and their event
        self.assertEqual((read, queries), ([partner.ids], 3))
        body = self.last_body(callback, partner)
        self.assertEqual((body['changed'], body['values']),
                         (['email', 'phone'], {'email': 'ona.zemaite@example.com', 'phone': '+370 3'}))

    def test_a_save_with_a_filter_or_other_field_kinds_reads_the_values(self):
        partner = self.partners[4]
        for count, filter_domain, fields in ((1, FILTER, ('email', 'phone')), (1, False, ('email', 'date'))):
            [callback] = self.activate(count, filter_domain=filter_domain, field_sets=[fields])
            partner.write({'email': 'warm@example.com', 'is_company': True})
            read, _queries = self.recorded_save(partner, {'email': 'x%s@example.com' % count})
            self.assertEqual(read, [partner.ids], fields)
            self.assertEqual(self.last_body(callback, partner)['values']['email'], 'x%s@example.com' % count)
