# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Payloads carry no secrets: nested records send their id, display name and safe stored fields;
passwords, tokens, fields restricted to groups and private records' contents are never sent, shown
in the sample or stored in a delivery."""
import json

from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval

from .. import payload
from .common import DeliveryCase

NOTE = 'Internal note: the customer is about to go bankrupt'


class TestPayloadSecrets(DeliveryCase):

    @classmethod
    def setUpFixtures(cls):
        super(TestPayloadSecrets, cls).setUpFixtures()
        cls.customer = cls.env['res.partner'].create({'name': 'Secretive Customer', 'email': 'c@example.com'})
        cls.user = cls.env['res.users'].create({'name': 'Portal Person', 'login': 'secret-person',
                                                'partner_id': cls.customer.id, 'password': 'hunter2-password'})
        cls.child = cls.env['res.partner'].create({'name': 'Child Contact', 'parent_id': cls.customer.id,
                                                   'email': 'child@example.com'})
        cls.child.sudo().write({'signup_token': 'tok3n-of-the-child', 'signup_type': 'reset'})
        cls.customer.message_post(body=NOTE, subtype='mail.mt_note')
        cls.user.invalidate_cache()
        cls.hash = cls.user.sudo().password_crypt
        cls.nested = cls.make_callback(
            action='update', fields=('name', 'user_ids', 'child_ids', 'message_ids'), url=cls.receiver.url,
            filter_domain="[('id', '=', %d)]" % cls.customer.id)

    def assert_no_secret(self, text):
        for secret in (self.hash, 'password_crypt', 'hunter2', 'tok3n-of-the-child', 'signup_token', 'bankrupt'):
            self.assertNotIn(secret, text)

    def test_nested_users_children_and_messages_carry_no_secret(self):
        self.assertTrue(self.hash, 'the user has a password hash to leak')
        self.customer.write({'name': 'Secretive Customer Ltd'})
        [delivery] = self.deliveries(self.nested)
        body = json.loads(delivery.payload)
        self.assert_no_secret(delivery.payload)
        [user] = body['values']['user_ids']
        self.assertEqual(user, {'id': self.user.id, 'display_name': 'Portal Person'}, 'a private model: id and name')
        [child] = body['values']['child_ids']
        self.assertEqual((child['id'], child['display_name'], child['email']),
                         (self.child.id, 'Secretive Customer Ltd, Child Contact', 'child@example.com'))
        self.assertNotIn('signup_token', child)
        self.assertTrue(body['values']['message_ids'])
        self.assertEqual(set(key for message in body['values']['message_ids'] for key in message),
                         {'id', 'display_name'})
        # the sample on the form, and what the receiver gets
        self.nested.invalidate_cache()
        self.assert_no_secret(self.nested.sample_payload)
        self.assertIn('"display_name"', self.nested.sample_payload)
        delivery._send_now()
        [received] = self.receiver.received
        self.assert_no_secret(received.body.decode('utf-8'))
        self.assertEqual(received.json['values'], body['values'])

    def test_a_secret_cannot_be_tracked(self):
        for name in ('signup_token', 'signup_type'):
            with self.assertRaises(ValidationError) as refused:
                self.make_callback(action='update', fields=(name,))
            self.assertIn('Fields: %s holds a secret' % name, str(refused.exception))
        with self.assertRaises(ValidationError), self.env.cr.savepoint():  # as a request rolls back
            self.nested.write({'field_names': ['name', 'signup_token']})
        self.nested.invalidate_cache()
        self.assertEqual(sorted(self.nested.field_ids.mapped('name')), ['child_ids', 'message_ids', 'name', 'user_ids'])

    def test_a_secret_tracked_by_an_earlier_release_is_no_longer_sent(self):
        token = self.env['ir.model.fields'].search([('model', '=', 'res.partner'), ('name', '=', 'signup_token')])
        self.env.cr.execute('INSERT INTO webhook_callback_field_rel (callback_id, field_id) VALUES (%s, %s)',
                            (self.nested.id, token.id))  # as a database of 11.0.3.0.0 may hold it
        self.Callback.clear_caches()
        self.child.sudo().write({'signup_token': 'another-tok3n-of-the-child'})
        self.customer.write({'name': 'Renamed'})
        [delivery] = self.deliveries(self.nested)
        self.assertNotIn('signup_token', json.loads(delivery.payload)['values'])
        self.assertNotIn('tok3n', delivery.payload)

    def test_what_counts_as_a_secret(self):
        fields = self.env['res.users']._fields
        self.assertTrue(payload.is_secret(fields['password']) and payload.is_secret(fields['password_crypt']))
        self.assertTrue(payload.is_secret(self.env['res.partner']._fields['signup_token']))  # by its groups too
        self.assertFalse(payload.is_secret(self.env['res.partner']._fields['email']))
        self.assertEqual(payload._nested_fields(self.env['mail.message']), [])

    def test_the_form_offers_no_secret_to_choose(self):
        Fields = self.env['ir.model.fields']
        partner_model = self.env['ir.model']._get('res.partner')
        domain = safe_eval(self.Callback._fields['field_ids'].domain, {'model_id': partner_model.id})
        offered = Fields.search(domain)
        self.assertIn('email', offered.mapped('name'))
        for name in offered.mapped('name'):
            self.assertFalse(payload.is_secret(self.env['res.partner']._fields[name]), name)
        # signup_token and signup_type are restricted to groups in the code, not in ir.model.fields.groups
        secret = Fields.search(domain[:-1] + [('webhook_secret', '=', True)])
        self.assertLessEqual({'signup_token', 'signup_type'}, set(secret.mapped('name')))
        self.assertEqual(offered | secret, Fields.search(domain[:-1]))
