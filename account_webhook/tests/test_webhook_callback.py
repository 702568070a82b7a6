# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import re

from odoo.exceptions import AccessError, ValidationError
from odoo.tools import mute_logger

from .common import WebhookCase


class TestCallbackSettings(WebhookCase):

    def test_key_is_40_random_alphanumerics_and_unique_per_callback(self):
        first, second = self.make_callback(), self.make_callback()
        for callback in first | second:
            self.assertRegex(callback.key, r'^[A-Za-z0-9]{40}$')
        self.assertNotEqual(first.key, second.key)

    def test_regenerate_key_replaces_it_with_a_new_valid_key(self):
        callback = self.make_callback()
        old = callback.key
        callback.action_regenerate_key()
        self.assertNotEqual(callback.key, old)
        self.assertRegex(callback.key, r'^[A-Za-z0-9]{40}$')

    def test_create_with_names_only_as_integrators_do(self):
        callback = self.Callback.create({
            'name': 'Invoices', 'model': 'account.invoice', 'action': 'update',
            'field_names': ['partner_id', 'invoice_line_ids', 'state'], 'url': 'https://example.com/h'})
        self.assertEqual(callback.model_id, self.env.ref('account.model_account_invoice'))
        self.assertEqual(callback.model, 'account.invoice')
        self.assertEqual(sorted(callback.field_ids.mapped('name')), ['invoice_line_ids', 'partner_id', 'state'])
        self.assertEqual(callback.company_id, self.company)
        self.assertTrue(callback.active)

    def test_write_accepts_field_names_and_model(self):
        callback = self.make_callback()
        callback.write({'field_names': ['name', 'phone']})
        self.assertEqual(sorted(callback.field_ids.mapped('name')), ['name', 'phone'])
        callback.write({'model': 'account.invoice', 'field_names': ['state']})
        self.assertEqual((callback.model, callback.field_ids.mapped('name')), ('account.invoice', ['state']))

    def test_revision_starts_at_1_and_counts_every_change(self):
        callback = self.make_callback()
        self.assertEqual(callback.revision, 1)
        callback.write({'name': 'Renamed'})
        callback.write({'url': 'https://other.example.com/h'})
        self.assertEqual(callback.revision, 3)
        self.assertIn('Revision #3', callback.revision_info)
        self.assertIn('by Administrator', callback.revision_info)

    def test_supported_models_are_invoices_and_contacts(self):
        self.assertEqual(self.Callback._supported_models(), ['account.invoice', 'res.partner'])
        domain = self.Callback._fields['model_id']._description_domain(self.env)
        offered = self.env['ir.model'].search(domain).mapped('model')
        self.assertEqual(sorted(offered), ['account.invoice', 'res.partner'])

    def assertRefused(self, vals, *fragments):
        """Creating with vals raises a ValidationError naming the field; nothing is saved."""
        before = self.Callback.with_context(active_test=False).search_count([])
        values = dict(name='bad', model='res.partner', action='update', field_names=['email'],
                      url='https://example.com/h')
        values.update(vals)
        with self.assertRaises(ValidationError) as caught, mute_logger('odoo.sql_db'):
            with self.env.cr.savepoint():
                self.Callback.create(values)
        for fragment in fragments:
            self.assertIn(fragment, caught.exception.name)
        self.assertEqual(self.Callback.with_context(active_test=False).search_count([]), before)
        return caught.exception.name

    def test_unsupported_model_is_refused(self):
        self.assertRefused({'model': 'res.users', 'field_names': ['login']},
                           'Record model name', 'res.users', 'account.invoice, res.partner')
        self.assertRefused({'model': 'no.such.model'}, 'Record model name', 'no.such.model')
        users_model = self.env.ref('base.model_res_users')
        self.assertRefused({'model': None, 'model_id': users_model.id, 'field_names': None,
                            'field_ids': [(6, 0, users_model.field_id.filtered(lambda f: f.name == 'login').ids)]},
                           'Record model name', 'res.users')

    def test_field_not_on_the_model_is_refused(self):
        self.assertRefused({'field_names': ['email', 'no_such_field']}, 'Fields', 'no_such_field', 'res.partner')
        invoice_state = self.env['ir.model.fields'].search([('model', '=', 'account.invoice'), ('name', '=', 'state')])
        self.assertRefused({'field_names': None, 'field_ids': [(6, 0, invoice_state.ids)]},
                           'Fields', 'state', 'res.partner')

    def test_binary_field_cannot_be_tracked(self):
        self.assertRefused({'field_names': ['image']}, 'Fields', 'image', 'binary')

    def test_update_callback_needs_a_field(self):
        self.assertRefused({'field_names': []}, 'Fields', 'at least one field')
        self.assertTrue(self.make_callback(action='create', fields=()))  # create/delete: just the id

    def test_bad_urls_are_refused(self):
        self.assertRefused({'url': ''}, 'Callback URL')
        self.assertRefused({'url': '   '}, 'Callback URL', 'empty')
        self.assertRefused({'url': 'receiver.example.com/hook'}, 'Callback URL', 'http://')
        self.assertRefused({'url': 'ftp://receiver.example.com/hook'}, 'Callback URL', 'http://')
        self.assertRefused({'url': 'javascript:alert(1)'}, 'Callback URL', 'http://')
        self.assertRefused({'url': 'http://'}, 'Callback URL', 'no host')
        self.assertRefused({'url': 'https://receiver.example.com:99999/h'}, 'Callback URL', 'not a valid URL')
        self.assertRefused({'url': 'https://receiver.example.com/a b'}, 'Callback URL')

    def test_duplicate_or_malformed_key_is_refused(self):
        taken = self.make_callback().key
        self.assertRefused({'key': taken}, 'Unique key', 'another callback')
        with self.assertRaises(ValidationError):
            self.make_callback().write({'key': taken})
        self.assertRefused({'key': 'short'}, 'Unique key', '40')
        self.assertRefused({'key': 'x' * 39 + '!'}, 'Unique key', '40')

    def test_sample_payload_is_the_payload_this_callback_sends(self):
        partner = self.env['res.partner'].create({'name': 'Sample Contact', 'email': 's@example.com'})
        callback = self.make_callback(action='update', fields=('email', 'name'))
        sample = json.loads(callback.sample_payload)
        self.assertEqual(list(sample), ['object', 'operation', 'id', 'values', 'changed', 'event_id', 'timestamp'])
        self.assertEqual((sample['object'], sample['operation'], sample['id']), ('res.partner', 'update', partner.id))
        self.assertEqual(sample['values'], {'email': 's@example.com', 'name': 'Sample Contact'})
        self.assertRegex(sample['timestamp'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')

    def test_sample_payload_follows_the_form_as_it_changes(self):
        """What the web form calls (onchange) recomputes the sample as fields are picked."""
        self.env['res.partner'].create({'name': 'Latest', 'email': 'l@example.com', 'phone': '+370 600'})
        partner_model = self.env.ref('base.model_res_partner')
        fields = self.env['ir.model.fields'].search([('model', '=', 'res.partner'), ('name', 'in', ['email', 'phone'])])
        spec = {'model_id': '1', 'field_ids': '1', 'action': '1', 'sample_payload': ''}
        values = {'name': 'x', 'model_id': partner_model.id, 'action': 'create', 'url': False,
                  'field_ids': [(6, 0, fields.filtered(lambda f: f.name == 'email').ids)], 'sample_payload': False}
        first = json.loads(self.Callback.onchange(values, 'field_ids', spec)['value']['sample_payload'])
        self.assertEqual(first['values'], {'email': 'l@example.com'})
        values['field_ids'] = [(6, 0, fields.ids)]
        second = json.loads(self.Callback.onchange(values, 'field_ids', spec)['value']['sample_payload'])
        self.assertEqual(second['values'], {'email': 'l@example.com', 'phone': '+370 600'})
        self.assertNotIn('changed', second)

    def test_fields_show_as_technical_names_in_the_form(self):
        callback = self.make_callback(fields=('email', 'name'))
        names = callback.field_ids.with_context(webhook_technical_names=True).name_get()
        self.assertEqual(sorted(n for _id, n in names), ['email', 'name'])
        found = self.env['ir.model.fields'].with_context(webhook_technical_names=True).name_search(
            'partner_i', [('model', '=', 'account.invoice')])
        self.assertIn('partner_id', [n for _id, n in found])


class TestCallbackAccess(WebhookCase):

    def test_settings_admin_manages_callbacks(self):
        callback = self.Callback.sudo(self.settings_admin).create({
            'name': 'by admin', 'model': 'res.partner', 'action': 'create', 'field_names': [],
            'url': 'https://example.com/h'})
        self.assertRegex(callback.key, r'^[A-Za-z0-9]{40}$')
        callback.write({'name': 'renamed'})
        callback.unlink()

    def test_accountant_and_portal_cannot_read_callbacks_or_keys(self):
        callback = self.make_callback()
        for user in (self.accountant, self.portal_user):
            with self.assertRaises(AccessError), mute_logger('odoo.models'):
                self.Callback.sudo(user).search([])
            with self.assertRaises(AccessError), mute_logger('odoo.models'):
                callback.sudo(user).read(['key'])
            with self.assertRaises(AccessError), mute_logger('odoo.models'):
                self.Callback.sudo(user).create({'name': 'x', 'model': 'res.partner', 'action': 'create',
                                                 'url': 'https://example.com/h'})
            with self.assertRaises(AccessError), mute_logger('odoo.models'):
                self.Delivery.sudo(user).search([])

    def test_key_field_is_restricted_to_settings_admins(self):
        self.assertEqual(self.Callback._fields['key'].groups, 'base.group_system')

    def test_each_company_sees_only_its_callbacks(self):
        mine = self.make_callback()
        theirs = self.Callback.sudo(self.other_admin).create({
            'name': 'theirs', 'model': 'res.partner', 'action': 'create', 'url': 'https://example.com/h'})
        self.assertEqual(theirs.company_id, self.other_company)
        visible_to_other = self.Callback.sudo(self.other_admin).search([])
        self.assertIn(theirs, visible_to_other)
        self.assertNotIn(mine, visible_to_other)
        self.assertNotIn(theirs, self.Callback.sudo(self.settings_admin).search([]))

    def test_menu_is_for_settings_admins_only(self):
        menu = self.env.ref('account_webhook.webhook_callback_menu')
        Menu = self.env['ir.ui.menu']
        self.assertIn(menu.id, Menu.sudo(self.settings_admin)._visible_menu_ids())
        self.assertNotIn(menu.id, Menu.sudo(self.accountant)._visible_menu_ids())


class TestLithuanian(WebhookCase):
    """The addon's Lithuanian, whatever languages the database had: a database without
    Lithuanian gets it here, in this class's transaction (rolled back at the end), with the
    translations of every installed module, as an administrator's *Load a Translation* does."""

    @classmethod
    def setUpFixtures(cls):
        super(TestLithuanian, cls).setUpFixtures()
        if not cls.env['res.lang'].search([('code', '=', 'lt_LT')]):  # active languages only
            cls.env['base.language.install'].create({'lang': 'lt_LT'}).lang_install()

    def test_error_messages_in_the_users_language(self):
        with self.assertRaises(ValidationError) as caught:
            with self.env.cr.savepoint():
                self.Callback.with_context(lang='lt_LT').create({
                    'name': 'x', 'model': 'res.partner', 'action': 'update', 'field_names': ['email'],
                    'url': 'ftp://receiver.example.com'})
        self.assertEqual(caught.exception.name,
                         'Atsako nuoroda: ftp://receiver.example.com turi prasidėti http:// arba https://.')

    def test_form_vocabulary_reads_as_in_the_seed(self):
        fields = self.Callback.with_context(lang='lt_LT').fields_get(
            ['name', 'key', 'action', 'model_id', 'field_ids', 'url', 'active', 'sample_payload'])
        self.assertEqual({name: f['string'] for name, f in fields.items()}, {
            'name': 'Pavadinimas', 'key': 'Unikalus raktas', 'action': 'Atgalinio skambučio veiksmas',
            'model_id': 'Įrašo modelio pavadinimas', 'field_ids': 'Laukai', 'url': 'Atsako nuoroda',
            'active': 'Aktyvus', 'sample_payload': 'Pavyzdinė siunčiamų duomenų struktūra'})
        self.assertEqual(dict(fields['action']['selection']),
                         {'create': 'Kūrimas', 'update': 'Atnaujinimas', 'delete': 'Trynimas'})
        menu = self.env.ref('account_webhook.webhook_callback_menu').with_context(lang='lt_LT')
        self.assertEqual(menu.complete_name.split('/')[-2:], ['Kiti nustatymai', 'Atgaliniai skambučiai'])
        callback = self.make_callback().with_context(lang='lt_LT')
        self.assertTrue(re.match(r'^Pataisymas #1 · Sukurta .* UTC naudotojo .*', callback.revision_info))
