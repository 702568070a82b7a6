# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re

from odoo import fields
from odoo.exceptions import UserError
from odoo.tools import mute_logger

from ..models.webhook_mixin import without_capture
from .common import WebhookCase

UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')


class TestPartnerCapture(WebhookCase):

    @classmethod
    def setUpFixtures(cls):
        super(TestPartnerCapture, cls).setUpFixtures()
        cls.on_create = cls.make_callback(action='create', fields=('name', 'email'))
        cls.on_update = cls.make_callback(action='update', fields=('email', 'phone'))
        cls.on_delete = cls.make_callback(action='delete', fields=('name', 'email'))
        cls.partner = cls.env['res.partner'].create({'name': 'Existing', 'email': 'old@example.com'})
        cls.Delivery.search([]).unlink()  # fixtures are not under test

    def test_create_emits_one_create_event_with_the_tracked_values(self):
        partner = self.env['res.partner'].create({'name': 'New Contact', 'email': 'new@example.com'})
        [body] = self.payloads(self.on_create)
        self.assertEqual(list(body), ['object', 'operation', 'id', 'values', 'event_id', 'timestamp'])
        self.assertEqual((body['object'], body['operation'], body['id']), ('res.partner', 'create', partner.id))
        self.assertEqual(body['values'], {'email': 'new@example.com', 'name': 'New Contact'})
        self.assertRegex(body['event_id'], UUID)
        self.assertRegex(body['timestamp'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        [delivery] = self.deliveries(self.on_create)
        self.assertEqual((delivery.state, delivery.res_model, delivery.res_id, delivery.operation,
                          delivery.event_id), ('pending', 'res.partner', partner.id, 'create', body['event_id']))
        self.assertFalse(self.deliveries(self.on_update), 'a create is not an update')

    def test_update_only_when_a_tracked_field_changes_value(self):
        self.partner.write({'email': 'old@example.com'})  # same value
        self.partner.write({'name': 'Renamed', 'comment': 'untracked'})  # untracked fields
        self.assertFalse(self.deliveries(self.on_update))
        self.partner.write({'phone': '+370 600 00000'})
        [body] = self.payloads(self.on_update)
        self.assertEqual(body['operation'], 'update')
        self.assertEqual(body['values'], {'email': 'old@example.com', 'phone': '+370 600 00000'})
        self.assertEqual(body['changed'], ['phone'])

    def test_several_writes_in_one_transaction_are_one_event_with_final_values(self):
        self.partner.write({'email': 'a@example.com'})
        self.partner.write({'email': 'b@example.com'})
        self.partner.write({'phone': '1'})
        [body] = self.payloads(self.on_update)
        self.assertEqual(body['values'], {'email': 'b@example.com', 'phone': '1'})
        self.assertEqual(body['changed'], ['email', 'phone'])

    def test_a_value_changed_and_changed_back_is_no_event(self):
        self.partner.write({'email': 'a@example.com'})
        self.assertEqual(len(self.deliveries(self.on_update)), 1)
        self.partner.write({'email': 'old@example.com'})
        self.assertFalse(self.deliveries(self.on_update))

    def test_create_then_update_in_one_transaction_is_one_create(self):
        partner = self.env['res.partner'].create({'name': 'Draft', 'email': 'draft@example.com'})
        partner.write({'email': 'final@example.com'})
        partner.write({'name': 'Final'})
        [body] = self.payloads(self.on_create)
        self.assertEqual(body['values'], {'email': 'final@example.com', 'name': 'Final'})
        self.assertFalse(self.deliveries(self.on_update))

    def test_delete_sends_the_values_read_before_deletion(self):
        partner_id = self.partner.id
        self.partner.unlink()
        [body] = self.payloads(self.on_delete)
        self.assertEqual((body['operation'], body['id']), ('delete', partner_id))
        self.assertEqual(body['values'], {'email': 'old@example.com', 'name': 'Existing'})

    def test_update_then_delete_is_one_delete(self):
        self.partner.write({'email': 'changed@example.com'})
        self.partner.unlink()
        self.assertFalse(self.deliveries(self.on_update))
        [body] = self.payloads(self.on_delete)
        self.assertEqual(body['values']['email'], 'changed@example.com')

    def test_create_then_delete_in_one_transaction_is_nothing(self):
        self.env['res.partner'].create({'name': 'Ephemeral'}).unlink()
        self.assertFalse(self.deliveries(self.on_create) | self.deliveries(self.on_delete))

    def test_rolled_back_changes_send_nothing(self):
        class Abort(Exception):
            pass
        with self.assertRaises(Abort):
            with self.env.cr.savepoint():
                self.partner.write({'email': 'rolled-back@example.com'})
                self.env['res.partner'].create({'name': 'Rolled back'})
                self.assertTrue(self.deliveries(self.on_update))
                raise Abort()
        self.assertFalse(self.deliveries(self.on_update) | self.deliveries(self.on_create))
        # the transaction goes on: a later change is captured normally
        self.partner.write({'email': 'kept@example.com'})
        [body] = self.payloads(self.on_update)
        self.assertEqual(body['values']['email'], 'kept@example.com')

    def test_kill_switch_context_key(self):
        Partner = without_capture(self.env['res.partner'])
        partner = Partner.create({'name': 'Imported', 'email': 'imported@example.com'})
        partner.write({'email': 'x@example.com'})
        Partner.browse(self.partner.id).write({'email': 'y@example.com'})
        partner.unlink()
        self.assertFalse(self.Delivery.search([]))

    def test_kill_switch_system_parameter(self):
        self.env['ir.config_parameter'].set_param('account_webhook.capture_disabled', '1')
        self.env['res.partner'].create({'name': 'Migrated'})
        self.partner.write({'email': 'migrated@example.com'})
        self.assertFalse(self.Delivery.search([]))
        self.env['ir.config_parameter'].set_param('account_webhook.capture_disabled', '0')
        self.partner.write({'email': 'live@example.com'})
        self.assertTrue(self.deliveries(self.on_update))

    def test_inactive_callbacks_capture_nothing(self):
        (self.on_create | self.on_update).write({'active': False})
        self.env['res.partner'].create({'name': 'Nobody listens'})
        self.partner.write({'email': 'quiet@example.com'})
        self.assertFalse(self.Delivery.search([]))

    def test_callbacks_of_one_company_do_not_see_another_companys_records(self):
        theirs = self.env['res.partner'].create({'name': 'Theirs', 'company_id': self.other_company.id})
        shared = self.env['res.partner'].create({'name': 'Shared', 'company_id': False})
        sent_for = self.deliveries(self.on_create).mapped('res_id')
        self.assertNotIn(theirs.id, sent_for)
        self.assertIn(shared.id, sent_for)
        self.new_transaction()
        other_callback = self.Callback.sudo(self.other_admin).create({
            'name': 'other', 'model': 'res.partner', 'action': 'update', 'field_names': ['email'],
            'url': 'https://other.example.com/h'})
        (theirs | self.partner).write({'email': 'both@example.com'})
        self.assertEqual(self.deliveries(other_callback).mapped('res_id'), [theirs.id])
        self.assertEqual(self.deliveries(self.on_update).mapped('res_id'), [self.partner.id])

    def test_batch_write_is_one_event_per_record_with_a_constant_number_of_queries(self):
        def extra_queries(count):
            partners = self.env['res.partner'].browse(
                [self.env['res.partner'].create({'name': 'P%d' % i}).id for i in range(count)])
            self.new_transaction()
            partners.mapped('email')  # warm the cache the same way in both runs
            partners.invalidate_cache()
            cr = self.env.cr
            start = cr.sql_log_count
            without_capture(partners).write({'email': 'n@example.com'})
            without = cr.sql_log_count - start
            partners.invalidate_cache()
            start = cr.sql_log_count
            partners.write({'email': 'm@example.com'})
            return cr.sql_log_count - start - without
        small, large = extra_queries(3), extra_queries(30)
        self.assertEqual(small, large, 'capture queries must not grow with the number of records')
        self.assertEqual(len(self.Delivery.search([('callback_id', '=', self.on_update.id)])), 33)

    def test_no_extra_query_when_no_callback_watches_the_model(self):
        from unittest import mock
        self.Callback.search([]).write({'active': False})
        self.make_callback(model='account.invoice', action='update', fields=('state',))
        self.partner.write({'email': 'warm@example.com'})  # the callback lookup is now cached
        cursor = type(self.env.cr)
        queries = []
        original = cursor.execute

        def execute(cr, query, params=None, log_exceptions=None):
            queries.append(query)
            return original(cr, query, params, log_exceptions)
        with mock.patch.object(cursor, 'execute', execute):
            partner = self.env['res.partner'].create({'name': 'Unwatched'})
            partner.write({'email': 'b@example.com'})
            partner.unlink()
        self.assertTrue(queries)
        self.assertEqual([q for q in queries if 'webhook' in q], [])


class TestInvoiceCapture(WebhookCase):

    @classmethod
    def setUpFixtures(cls):
        super(TestInvoiceCapture, cls).setUpFixtures()
        cls.on_update = cls.make_callback(model='account.invoice', action='update',
                                          fields=('state', 'invoice_line_ids', 'partner_id', 'residual'))
        cls.on_create = cls.make_callback(model='account.invoice', action='create',
                                          fields=('state', 'invoice_line_ids', 'amount_total', 'date_invoice'))
        cls.on_delete = cls.make_callback(model='account.invoice', action='delete', fields=('state',))
        cls.invoice = cls.make_invoice(lines=[('Consulting', 2, 150.0), ('Travel', 1, 40.0)])
        cls.income = cls.invoice.invoice_line_ids[0].account_id
        cls.created_payload = cls.Delivery.search([('callback_id', '=', cls.on_create.id)]).payload
        cls.Delivery.search([]).unlink()  # fixtures are not under test

    def test_create_payload_carries_lines_and_typed_values(self):
        import json
        body = json.loads(self.created_payload)
        self.assertEqual((body['operation'], body['id']), ('create', self.invoice.id))
        values = body['values']
        self.assertEqual(values['state'], 'draft')
        self.assertEqual(values['amount_total'], 340.0)
        self.assertIsNone(values['date_invoice'])
        lines = values['invoice_line_ids']
        self.assertEqual([line['id'] for line in lines], self.invoice.invoice_line_ids.ids)
        first = lines[0]
        for key in ('product_id', 'name', 'quantity', 'price_unit', 'discount', 'invoice_line_tax_ids',
                    'price_subtotal', 'account_id'):
            self.assertIn(key, first)
        self.assertEqual((first['name'], first['quantity'], first['price_unit'], first['price_subtotal']),
                         ('Consulting', 2.0, 150.0, 300.0))
        self.assertIsNone(first['product_id'])
        self.assertEqual(first['account_id'], self.income.id)
        self.assertEqual(first['invoice_line_tax_ids'], [])
        self.assertNotIn('create_date', first)

    def test_validation_is_an_update_of_state(self):
        self.invoice.action_invoice_open()
        [body] = self.payloads(self.on_update)
        self.assertEqual(body['changed'], ['residual', 'state'])  # the amount due appears with the move
        self.assertEqual(body['values']['state'], 'open')
        self.assertEqual(body['values']['partner_id'], self.invoice.partner_id.id)

    def test_payment_until_paid_is_an_update_of_state_and_residual(self):
        self.invoice.action_invoice_open()
        self.new_transaction()
        self.Delivery.search([]).unlink()
        self.pay(self.invoice, 100.0)
        [partial] = self.payloads(self.on_update)
        self.assertEqual(partial['changed'], ['residual'])
        self.assertEqual((partial['values']['residual'], partial['values']['state']), (240.0, 'open'))
        self.new_transaction()
        self.Delivery.search([]).unlink()
        self.pay(self.invoice)
        [paid] = self.payloads(self.on_update)
        self.assertEqual(paid['changed'], ['residual', 'state'])
        self.assertEqual((paid['values']['residual'], paid['values']['state']), (0.0, 'paid'))

    def test_cancelling_is_an_update_of_state(self):
        self.invoice.action_invoice_cancel()
        [body] = self.payloads(self.on_update)
        self.assertEqual((body['changed'], body['values']['state']), (['state'], 'cancel'))

    def test_line_created_directly_is_an_update_of_its_invoice(self):
        """As the CreateInvoiceItem call of a billing system adds one line to an invoice."""
        line = self.env['account.invoice.line'].create({
            'invoice_id': self.invoice.id, 'name': 'Extra item', 'quantity': 1, 'price_unit': 60.0,
            'account_id': self.income.id})
        [body] = self.payloads(self.on_update)
        self.assertEqual((body['id'], body['changed']), (self.invoice.id, ['invoice_line_ids']))
        self.assertEqual([item['id'] for item in body['values']['invoice_line_ids']], self.invoice.invoice_line_ids.ids)
        self.assertIn(line.id, [item['id'] for item in body['values']['invoice_line_ids']])

    def test_line_changed_or_removed_directly_is_an_update_of_its_invoice(self):
        first, second = self.invoice.invoice_line_ids
        first.write({'quantity': 3})
        [body] = self.payloads(self.on_update)
        self.assertEqual(body['values']['invoice_line_ids'][0]['quantity'], 3.0)
        self.assertEqual(body['values']['invoice_line_ids'][0]['price_subtotal'], 450.0)
        second.unlink()
        [body] = self.payloads(self.on_update)  # same transaction: still one event, final lines
        self.assertEqual([item['id'] for item in body['values']['invoice_line_ids']], [first.id])

    def test_writing_lines_through_the_invoice_is_one_update(self):
        first, second = self.invoice.invoice_line_ids
        self.invoice.write({'invoice_line_ids': [(2, second.id), (1, first.id, {'price_unit': 100.0}),
                                                 (0, 0, {'name': 'New', 'quantity': 1, 'price_unit': 5.0,
                                                         'account_id': self.income.id})]})
        [body] = self.payloads(self.on_update)
        self.assertEqual(body['changed'], ['invoice_line_ids'])
        self.assertEqual([item['name'] for item in body['values']['invoice_line_ids']], ['Consulting', 'New'])

    def test_refused_delete_of_a_validated_invoice_sends_nothing(self):
        self.invoice.action_invoice_open()
        self.Delivery.search([]).unlink()
        with self.assertRaises(UserError), mute_logger('odoo.sql_db'):
            with self.env.cr.savepoint():
                self.invoice.unlink()
        self.assertFalse(self.deliveries(self.on_delete))

    def test_deleting_a_draft_invoice_is_a_delete_event(self):
        invoice_id = self.invoice.id
        self.invoice.unlink()
        [body] = self.payloads(self.on_delete)
        self.assertEqual((body['id'], body['values']), (invoice_id, {'state': 'draft'}))

    def test_smart_button_opens_this_callbacks_deliveries(self):
        self.invoice.action_invoice_open()
        self.assertEqual(self.on_update.delivery_count, 1)
        action = self.on_update.action_view_deliveries()
        self.assertEqual(self.Delivery.search(action['domain']), self.deliveries(self.on_update))


class TestFilter(WebhookCase):
    """A callback's filter: create and update events for records that match after the change,
    delete events for records that matched before the deletion."""

    @classmethod
    def setUpFixtures(cls):
        super(TestFilter, cls).setUpFixtures()
        companies = "[('is_company', '=', True)]"
        cls.on_create = cls.make_callback(action='create', fields=('name',), filter_domain=companies)
        cls.on_update = cls.make_callback(action='update', fields=('email', 'is_company'), filter_domain=companies)
        cls.on_delete = cls.make_callback(action='delete', fields=('name',), filter_domain=companies)
        cls.unfiltered = cls.make_callback(action='update', fields=('email',))
        Partner = cls.env['res.partner']
        cls.company_partner = Partner.create({'name': 'ACME', 'is_company': True, 'email': 'acme@example.com'})
        cls.person = Partner.create({'name': 'Jane', 'is_company': False, 'email': 'jane@example.com'})
        cls.Delivery.search([]).unlink()  # fixtures are not under test

    def sent_ids(self, callback):
        return self.deliveries(callback).mapped('res_id')

    def test_create_only_for_records_that_match_once_created(self):
        Partner = self.env['res.partner']
        company = Partner.create({'name': 'New Co', 'is_company': True})
        person = Partner.create({'name': 'New Person'})
        # created as a person, then made a company in the same transaction: it matches once created
        later = Partner.create({'name': 'Becomes Co'})
        later.write({'is_company': True})
        self.assertEqual(self.sent_ids(self.on_create), [company.id, later.id])
        self.assertNotIn(person.id, self.sent_ids(self.on_create))

    def test_update_when_the_record_matches_after_the_change(self):
        (self.company_partner | self.person).write({'email': 'both@example.com'})
        self.assertEqual(self.sent_ids(self.on_update), [self.company_partner.id])
        # the unfiltered callback sees both
        self.assertEqual(sorted(self.sent_ids(self.unfiltered)), sorted([self.company_partner.id, self.person.id]))

    def test_entering_the_filter_is_an_update_and_leaving_it_is_none(self):
        self.person.write({'is_company': True})
        [body] = self.payloads(self.on_update)
        self.assertEqual((body['id'], body['changed']), (self.person.id, ['is_company']))
        self.new_transaction()
        self.Delivery.search([]).unlink()
        self.company_partner.write({'is_company': False, 'email': 'left@example.com'})
        self.assertFalse(self.deliveries(self.on_update))

    def test_leaving_the_filter_later_in_the_transaction_drops_the_event(self):
        self.company_partner.write({'email': 'first@example.com'})
        self.assertEqual(len(self.deliveries(self.on_update)), 1)
        self.company_partner.write({'is_company': False})
        self.assertFalse(self.deliveries(self.on_update))

    def test_delete_when_the_record_matched_before_the_deletion(self):
        company_id, person_id = self.company_partner.id, self.person.id
        (self.company_partner | self.person).unlink()
        self.assertEqual(self.sent_ids(self.on_delete), [company_id])
        self.assertNotIn(person_id, self.sent_ids(self.on_delete))

    def test_one_query_per_filtered_callback_whatever_the_number_of_records(self):
        from unittest import mock

        def filter_queries(count):
            Partner = self.env['res.partner']
            partners = Partner.browse([Partner.create({'name': 'C%d' % i, 'is_company': True}).id
                                       for i in range(count)])
            self.new_transaction()
            queries = []
            execute = type(self.env.cr).execute

            def recording(cr, query, params=None, log_exceptions=None):
                queries.append(query)
                return execute(cr, query, params, log_exceptions)
            with mock.patch.object(type(self.env.cr), 'execute', recording):
                partners.write({'email': 'n%d@example.com' % count})
            self.assertEqual(len(self.deliveries(self.on_update).filtered(lambda d: d.res_id in partners.ids)), count)
            return [q for q in queries if '"res_partner"."is_company"' in q]
        small, large = filter_queries(3), filter_queries(30)
        # one search for the update callback; the create and delete callbacks do not apply to a write
        self.assertEqual((len(small), len(large)), (1, 1))

    def test_a_line_change_on_a_filtered_invoice(self):
        on_lines = self.make_callback(model='account.invoice', action='update', fields=('invoice_line_ids',),
                                      filter_domain="[('type', '=', 'out_invoice')]")
        invoice = self.make_invoice()
        refund = self.make_invoice()
        without_capture(refund).write({'type': 'out_refund'})
        self.new_transaction()
        (invoice | refund).mapped('invoice_line_ids').write({'quantity': 5})
        [body] = self.payloads(on_lines)
        self.assertEqual((body['id'], body['changed']), (invoice.id, ['invoice_line_ids']))

    def test_the_sample_payload_shows_a_record_that_matches(self):
        import json
        self.env['res.partner'].create({'name': 'Latest person', 'is_company': False})
        self.assertEqual(json.loads(self.on_create.sample_payload)['id'],
                         self.env['res.partner'].search([('is_company', '=', True)], order='id desc', limit=1).id)

    def test_a_bad_filter_is_refused_and_nothing_is_saved(self):
        from odoo.exceptions import ValidationError
        for text, message in [
                ("[('nope', '=', 1)]", "is not a valid filter for res.partner: Invalid field 'nope'"),
                ("[('is_company', '=', True", 'is not a domain'),
                ('42', 'is not a domain')]:
            with self.assertRaises(ValidationError) as error, self.env.cr.savepoint():
                self.on_update.write({'filter_domain': text})
            self.assertIn('Filter: ', error.exception.name)
            self.assertIn(message, error.exception.name)
        self.assertEqual(self.on_update.filter_domain, "[('is_company', '=', True)]")


class TestBackfill(WebhookCase):

    @classmethod
    def setUpFixtures(cls):
        super(TestBackfill, cls).setUpFixtures()
        Partner = cls.env['res.partner']
        cls.Delivery.search([]).unlink()
        cls.companies = Partner.browse([
            Partner.create({'name': 'Backfill Co %d' % i, 'is_company': True, 'email': 'co%d@example.com' % i}).id
            for i in range(5)])
        cls.archived = Partner.create({'name': 'Backfill Archived Co', 'is_company': True, 'active': False})
        cls.person = Partner.create({'name': 'Backfill Person', 'is_company': False})
        cls.theirs = Partner.create({'name': 'Backfill Their Co', 'is_company': True,
                                     'company_id': cls.other_company.id})
        cls.callback = cls.make_callback(action='update', fields=('email', 'name'),
                                         filter_domain="[('is_company', '=', True), ('name', 'like', 'Backfill')]")

    def backfill(self, **kw):
        """Ask for the backfill, as the button does, then run the cron as it would run."""
        self.assertIs(self.callback.action_backfill(**kw), True)
        return self.Callback._cron_backfill()

    def test_one_create_event_per_matching_record_marked_backfill(self):
        self.assertIs(self.callback.action_backfill(batch_size=2), True)
        # asked, not done: the administrator's request only counts and records it
        self.assertFalse(self.deliveries(self.callback))
        self.assertEqual((self.callback.backfill_state, self.callback.backfill_total, self.callback.backfill_count),
                         ('running', 6, 0))
        self.assertEqual(self.callback.backfill_progress, 'Backfill: 0 of 6 records queued')
        self.assertEqual(self.Callback._cron_backfill(), 6)
        deliveries = self.deliveries(self.callback)
        expected = (self.companies | self.archived).ids
        # in the order of the records, batch after batch, nothing of the other company nor outside the filter
        self.assertEqual(deliveries.mapped('res_id'), sorted(expected))
        self.assertEqual(set(deliveries.mapped('operation')), {'create'})
        self.assertEqual(set(deliveries.mapped('state')), {'pending'})
        bodies = self.payloads(self.callback)
        self.assertEqual(list(bodies[0]), ['object', 'operation', 'id', 'values', 'backfill', 'event_id', 'timestamp'])
        first = self.companies[0]
        self.assertEqual(bodies[0], dict(bodies[0], operation='create', id=first.id, backfill=True,
                                         values={'email': first.email, 'name': first.name}))
        self.assertEqual(len({body['event_id'] for body in bodies}), len(bodies))
        self.assertEqual((self.callback.backfill_state, self.callback.backfill_count), ('done', 6))
        self.assertEqual(self.callback.backfill_progress,
                         'Backfill done: 6 records queued on %s UTC' % self.callback.backfill_done_at)
        self.assertEqual(self.Callback._cron_backfill(), 0, 'nothing left to do')

    def test_batches_read_only_a_batch_of_records_at_a_time(self):
        from unittest import mock
        from odoo.addons.account_webhook.models.webhook_mixin import WebhookMixin
        batches = []
        original = WebhookMixin._webhook_values

        def recording(records, names):
            batches.append(len(records))
            return original(records, names)
        with mock.patch.object(WebhookMixin, '_webhook_values', recording):
            self.backfill(batch_size=2)
        self.assertEqual(batches, [2, 2, 2])
        self.assertEqual(len(self.deliveries(self.callback)), 6)

    def test_asking_wakes_the_cron_and_records_created_afterwards_are_not_backfilled(self):
        cron = self.env.ref('account_webhook.ir_cron_webhook_backfill')
        cron.write({'nextcall': '2999-01-01 00:00:00'})
        self.callback.action_backfill()
        cron.invalidate_cache()
        self.assertLessEqual(cron.nextcall, fields.Datetime.now())
        later = self.env['res.partner'].create({'name': 'Backfill Later Co', 'is_company': True})
        self.Callback._cron_backfill()
        self.assertNotIn(later.id, self.deliveries(self.callback).mapped('res_id'))
        self.assertEqual(self.callback.backfill_count, 6)

    def test_asking_again_while_it_runs_is_refused_and_once_done_sends_again(self):
        self.callback.action_backfill()
        with self.assertRaisesRegex(UserError, 'already sending its existing records .Backfill: 0 of 6'):
            self.callback.action_backfill()
        self.Callback._cron_backfill()
        self.backfill()
        self.assertEqual(len(self.deliveries(self.callback)), 12)

    def test_the_cron_stops_at_its_time_budget_and_goes_on_at_the_next_call(self):
        self.callback.action_backfill(batch_size=2)
        self.assertEqual(self.Callback._run_backfills(max_seconds=0), 2)  # one batch a call at least
        self.assertEqual((self.callback.backfill_state, self.callback.backfill_count), ('running', 2))
        self.assertEqual(self.Callback._cron_backfill(), 4)

    def test_an_archived_callback_is_not_backfilled(self):
        self.callback.write({'active': False})
        with self.assertRaises(UserError):
            self.callback.action_backfill()
        self.assertFalse(self.deliveries(self.callback))
        self.assertFalse(self.callback.backfill_state)

    def test_the_cron_waits_while_the_callback_is_archived(self):
        self.callback.action_backfill()
        self.callback.write({'active': False})
        self.assertEqual(self.Callback._cron_backfill(), 0)
        self.callback.write({'active': True})
        self.assertEqual(self.Callback._cron_backfill(), 6)


class TestBackfillThousands(WebhookCase):
    """2,000 contacts backfilled in batches of 300: each queued once, in id order, one batch in memory."""

    @classmethod
    def setUpFixtures(cls):
        super(TestBackfillThousands, cls).setUpFixtures()
        cls.env.cr.execute("""
            INSERT INTO res_partner (name, display_name, active, is_company, type, invoice_warn, customer,
                                     supplier, employee, create_uid, write_uid, create_date, write_date)
            SELECT 'Bulk backfill ' || n, 'Bulk backfill ' || n, true, false, 'contact', 'no-message', true,
                   false, false, 1, 1, now() at time zone 'UTC', now() at time zone 'UTC'
              FROM generate_series(1, 2000) n RETURNING id""")
        cls.partner_ids = sorted(row[0] for row in cls.env.cr.fetchall())
        cls.callback = cls.make_callback(action='create', fields=('name',),
                                         filter_domain="[('name', '=like', 'Bulk backfill %')]")

    def test_2000_contacts_in_batches_of_300(self):
        from unittest import mock
        from odoo.addons.account_webhook.models.webhook_mixin import WebhookMixin
        batches, seen = [], set()
        original = WebhookMixin._webhook_values

        def recording(records, names):
            batches.append(len(records))
            # no contact of an earlier batch is still in memory when the next one is read
            cached = records.env.cache.get_records(records, records._fields['name'])
            self.assertFalse(set(cached.ids) & seen)
            seen.update(records.ids)
            return original(records, names)
        self.callback.action_backfill(batch_size=300)
        self.assertEqual((self.callback.backfill_total, self.callback.backfill_count), (2000, 0))
        progress = []
        with mock.patch.object(WebhookMixin, '_webhook_values', recording):
            while True:
                queued = self.callback._backfill_batch(commit=False)
                if queued is None:
                    break
                progress.append((queued, self.callback.backfill_count, self.callback.backfill_state))
        self.assertEqual(batches, [300] * 6 + [200])
        self.assertEqual(progress, [(300, 300 * (i + 1), 'running') for i in range(6)] + [(200, 2000, 'done')])
        self.assertEqual(self.callback.backfill_progress,
                         'Backfill done: 2,000 records queued on %s UTC' % self.callback.backfill_done_at)
        deliveries = self.deliveries(self.callback)
        self.assertEqual(deliveries.mapped('res_id'), self.partner_ids)  # each once, in id order
