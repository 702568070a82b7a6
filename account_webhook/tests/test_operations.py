# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Operating callbacks: key rotation, the audit trail, alerts and health at a glance."""
import datetime

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tools.safe_eval import safe_eval

from ..runtime.state import read_state
from .common import DeliveryCase


def hours_ago(hours):
    return fields.Datetime.to_string(datetime.datetime.utcnow() - datetime.timedelta(hours=hours))


class TestKeyRotation(DeliveryCase):

    def setUp(self):
        super(TestKeyRotation, self).setUp()
        self.callback.write({'key': self.callback.key[::-1]})  # no rotation left over from another test

    def verify(self, request, key):
        from standardwebhooks.webhooks import Webhook
        return Webhook(key).verify(request.body, {name: request.headers[name] for name in (
            'webhook-id', 'webhook-timestamp', 'webhook-signature')})

    def test_during_the_overlap_both_keys_sign_then_only_the_new_one(self):
        from standardwebhooks.webhooks import WebhookVerificationError
        old = self.callback.key
        self.callback.action_rotate_key()
        new = self.callback.key
        self.assertNotEqual(new, old)
        self.assertAlmostEqual(DeliveryCase.seconds_from_now(self.callback.previous_key_expires), 24 * 3600, delta=60)
        self.change()._send_now()
        [request] = self.receiver.received
        signatures = request.headers['webhook-signature'].split(' ')
        self.assertEqual(len(signatures), 2)
        self.assertTrue(all(signature.startswith('v1,') for signature in signatures))
        # the Standard Webhooks library accepts the message with either key
        self.assertEqual(self.verify(request, new)['id'], self.partner.id)
        self.assertEqual(self.verify(request, old)['id'], self.partner.id)
        # the overlap is over: the previous key no longer signs, even before the cron wipes it
        self.env.cr.execute('UPDATE webhook_callback SET previous_key_expires = %s WHERE id = %s',
                            (hours_ago(0.01), self.callback.id))
        self.receiver.reset()
        self.change()._send_now()
        [request] = self.receiver.received
        self.assertEqual(len(request.headers['webhook-signature'].split(' ')), 1)
        self.verify(request, new)
        with self.assertRaises(WebhookVerificationError):
            self.verify(request, old)
        # the monitor cron wipes it and says so in the chatter, without any key
        self.Callback._cron_monitor()
        self.callback.invalidate_cache()
        self.assertFalse(self.callback.previous_key)
        self.assertFalse(self.callback.previous_key_expires)
        self.assertIn('previous key was wiped', self.callback.message_ids[0].body)

    def test_rotating_twice_in_one_overlap_is_refused(self):
        self.callback.action_rotate_key()
        key, previous = self.callback.key, self.callback.previous_key
        with self.assertRaisesRegex(UserError, 'already being rotated.*Regenerate key'):
            self.callback.action_rotate_key()
        self.assertEqual((self.callback.key, self.callback.previous_key), (key, previous))

    def test_an_overlap_that_is_not_a_positive_number_is_refused(self):
        key = self.callback.key
        for value in ('abc', '0', '-3', 'inf', '1e9'):
            self.store_raw_param('account_webhook.key_overlap_hours', value)  # refused by set_param now
            with self.assertRaisesRegex(UserError, 'Rotate key: The system parameter account_webhook.key_overlap_hours '
                                        'cannot be "%s": it must be a number of hours from 0.01 to 8760. '
                                        'Nothing was changed.' % value):
                self.callback.action_rotate_key()
            self.assertEqual(self.callback.key, key)
            self.assertFalse(self.callback.previous_key)
        self.Params.set_param('account_webhook.key_overlap_hours', '1.5')
        self.callback.action_rotate_key()
        self.assertAlmostEqual(DeliveryCase.seconds_from_now(self.callback.previous_key_expires), 5400, delta=60)

    def test_regenerate_switches_at_once_and_ends_a_rotation(self):
        self.callback.action_rotate_key()
        rotated = self.callback.key
        self.callback.action_regenerate_key()
        self.assertNotEqual(self.callback.key, rotated)
        self.assertFalse(self.callback.previous_key)
        self.assertFalse(self.callback.previous_key_expires)
        self.change()._send_now()
        [request] = self.receiver.received
        self.assertEqual(len(request.headers['webhook-signature'].split(' ')), 1)
        self.verify(request, self.callback.key)

    def test_keys_stay_secret_in_the_chatter_and_from_non_admins(self):
        keys = [self.callback.key]
        self.callback.action_rotate_key()
        keys.append(self.callback.key)
        self.callback.action_regenerate_key()
        keys.append(self.callback.key)
        self.callback.write({'key': 'K' * 40})
        bodies = ' '.join(self.callback.message_ids.mapped('body'))
        self.assertIn('Key rotated', bodies)
        self.assertIn('Key regenerated', bodies)
        self.assertIn('Unique key changed', bodies)
        for key in keys + ['K' * 40]:
            self.assertNotIn(key, bodies)
        tracked = self.env['mail.tracking.value'].search([('mail_message_id', 'in', self.callback.message_ids.ids)])
        self.assertFalse(set(tracked.mapped('field')) & {'key', 'previous_key', 'headers'})
        with self.assertRaises(AccessError):
            self.callback.sudo(self.accountant).read(['previous_key'])
        for name in ('key', 'previous_key', 'headers'):  # for anyone given read access to callbacks
            self.assertEqual(self.Callback._fields[name].groups, 'base.group_system')


class TestAuditTrail(DeliveryCase):

    def test_changes_are_tracked_with_who_and_revisions_keep_counting(self):
        callback = self.make_callback(name='Audited', fields=('email',)).sudo(self.settings_admin)
        revision = callback.revision
        callback.write({'name': 'Audited (renamed)', 'url': 'https://other.example.com/hook', 'action': 'update',
                        'rate_limit': 30, 'max_in_flight': 2, 'filter_domain': "[('is_company', '=', True)]"})
        callback.write({'field_names': ['email', 'phone']})
        callback.write({'headers': 'Authorization: Bearer s3cret'})
        callback.write({'headers': 'Authorization: Bearer s3cret', 'field_names': ['phone', 'email']})  # the same
        callback.write({'active': False})
        callback.message_post(body='A comment does not count as a revision')
        self.assertEqual(callback.revision, revision + 5)
        messages = callback.sudo().message_ids  # tracking values: technical features (group_no_one)
        self.assertEqual(set(messages.mapped('author_id')) - {self.env.user.partner_id},
                         {self.settings_admin.partner_id})
        tracked = {(value.field, value.old_value_char or value.old_value_integer,
                    value.new_value_char or value.new_value_integer)
                   for value in messages.mapped('tracking_value_ids')}
        self.assertLessEqual({('name', 'Audited', 'Audited (renamed)'),
                              # the URL as logged: its query values masked (test_hostile_input)
                              ('url_display', 'https://receiver.example.com/hook', 'https://other.example.com/hook'),
                              ('rate_limit', 0, 30), ('max_in_flight', 0, 2)}, tracked)
        self.assertIn('filter_domain', {value[0] for value in tracked})
        self.assertIn('active', {value[0] for value in tracked})
        bodies = ' '.join(messages.mapped('body'))
        self.assertEqual(bodies.count('Fields: email → email, phone'), 1)
        self.assertEqual(bodies.count('Extra headers changed'), 1, 'a write of the same value is no change')
        self.assertNotIn('s3cret', bodies)
        self.assertIn('Revision #%d' % (revision + 5), callback.revision_info)

    def test_the_creator_follows_the_callback(self):
        callback = self.Callback.sudo(self.settings_admin).create({
            'name': 'Followed', 'model': 'res.partner', 'action': 'create', 'url': 'https://r.example.com/h'})
        self.assertIn(self.settings_admin.partner_id, callback.message_partner_ids)


class TestAlerts(DeliveryCase):

    @classmethod
    def setUpFixtures(cls):
        super(TestAlerts, cls).setUpFixtures()
        cls.settings_admin.partner_id.email = 'settings.admin@example.com'
        cls.company.email = 'company@example.com'
        cls.watched = cls.Callback.sudo(cls.settings_admin).create({
            'name': 'Watched', 'model': 'res.partner', 'action': 'update', 'field_names': ['email'],
            'url': cls.receiver.url}).sudo()

    def alerts(self):
        subtype = self.env.ref('account_webhook.mt_callback_alert')
        return self.watched.message_ids.filtered(lambda message: message.subtype_id == subtype)

    def emails_to_admin(self):
        return self.env['mail.mail'].search([('mail_message_id', 'in', self.alerts().ids),
                                             ('recipient_ids', 'in', self.settings_admin.partner_id.ids)])

    def fail_endpoint(self, since_hours):
        self.env.cr.execute("""INSERT INTO webhook_endpoint (name, consecutive_failures, failing_since, last_error)
                               VALUES (%s, 7, %s, 'Connection refused')
                               ON CONFLICT (name) DO UPDATE SET consecutive_failures = 7,
                                      failing_since = EXCLUDED.failing_since, last_error = EXCLUDED.last_error""",
                            (self.watched.endpoint, hours_ago(since_hours)))

    def test_an_endpoint_failing_over_an_hour_alerts_once_then_once_on_recovery(self):
        self.fail_endpoint(0.5)
        self.Callback._cron_monitor()
        self.assertFalse(self.alerts(), 'failing for half an hour is no incident yet')
        self.fail_endpoint(2)
        for _run in range(3):
            self.Callback._cron_monitor()
        [alert] = self.alerts()
        self.assertEqual(alert.subject, 'Callback Watched failing')
        self.assertIn('failing since', alert.body)
        self.assertIn('Connection refused', alert.body)
        [email] = self.emails_to_admin()
        self.assertEqual(email.state, 'outgoing', 'queued for the mail queue, not sent from the cron')
        self.assertIn('company@example.com', email.email_from)
        # many failed deliveries in the incident: still one alert
        for _i in range(3):
            self.receiver.answer(500)
        for _i in range(3):
            self.change()._send_now()
        self.Callback._cron_monitor()
        self.assertEqual(len(self.alerts()), 1)
        # it answers again: one message that it recovered
        self.change()._send_now()
        self.Callback._cron_monitor()
        self.Callback._cron_monitor()
        recovered, _failing = self.alerts()
        self.assertEqual(recovered.subject, 'Callback Watched recovered')
        self.assertIn('go through again', recovered.body)
        self.assertEqual(len(self.emails_to_admin()), 2)

    def test_a_410_deactivation_alerts_once_and_reactivation_once(self):
        self.receiver.answer(410)
        self.change()._send_now()
        self.watched.invalidate_cache()
        self.assertFalse(self.watched.active)
        self.Callback._cron_monitor()
        self.Callback._cron_monitor()
        [alert] = self.alerts()
        self.assertEqual(alert.subject, 'Callback Watched deactivated')
        self.assertIn('410 Gone', alert.body)
        self.watched.write({'active': True})
        self.Callback._cron_monitor()
        self.Callback._cron_monitor()
        reactivated, _deactivated = self.alerts()
        self.assertIn('active again', reactivated.body)

    def change(self, partner=None, email=None):
        """A change of the watched callback's record (the receiver is theirs)."""
        delivery = super(TestAlerts, self).change(partner, email)
        return self.Delivery.search([('callback_id', '=', self.watched.id), ('state', '=', 'pending')],
                                    order='id desc', limit=1) or delivery

    def test_archived_by_hand_no_alert(self):
        self.watched.write({'active': False})
        self.Callback._cron_monitor()
        self.assertFalse(self.alerts())

    def test_a_receiver_refusing_everything_for_an_hour_alerts_once(self):
        """401 after a key rotation, say: the endpoint answers, its circuit breaker stays closed,
        but no delivery goes through."""
        for _i in range(2):
            self.receiver.answer(401, body=b'bad signature')
            self.change()._send_now()
        self.assertFalse(read_state(self.env.cr).failing, 'the breaker counts no 4xx')
        self.Callback._cron_monitor()
        self.assertFalse(self.alerts(), 'refused for minutes only')
        self.env.cr.execute("UPDATE webhook_delivery_attempt SET attempted_at = attempted_at - interval '2 hours' "
                            "WHERE callback_id = %s", (self.watched.id,))
        self.Callback._cron_monitor()
        self.Callback._cron_monitor()
        [alert] = self.alerts()
        self.assertIn('HTTP 401', alert.body)
        self.change()._send_now()  # accepted again
        self.Callback._cron_monitor()
        recovered, _failing = self.alerts()
        self.assertIn('go through again', recovered.body)

    def test_a_copied_database_alerts_no_one(self):
        """Its endpoints' and attempts' rows are the original's, frozen while it is held."""
        self.fail_endpoint(2)
        self.Params.set_param('account_webhook.database_name', 'production')
        self.Callback._cron_monitor()
        self.assertFalse(self.alerts())


class TestHealth(DeliveryCase):

    def test_the_list_shows_state_volume_success_rate_and_last_success(self):
        callback = self.callback
        self.assertEqual((callback.health_state, callback.deliveries_24h, callback.last_success_at),
                         ('healthy', 0, False))
        first = self.change()
        first._send_now()
        self.receiver.answer(500)
        self.change()._send_now()
        self.change()
        self.change()
        old = self.change()
        self.env.cr.execute("UPDATE webhook_delivery SET create_date = %s WHERE id = %s", (hours_ago(30), old.id))
        callback.invalidate_cache()
        self.assertEqual(callback.deliveries_24h, 4)
        self.assertEqual(callback.success_rate_24h, 25.0)
        self.assertEqual(callback.last_success_at, first.attempt_ids.attempted_at)
        self.assertEqual(callback.health_state, 'failing')
        state = read_state(self.env.cr)
        for _i in range(5):
            self.receiver.answer(500)
            self.change()._send_now()
        state = read_state(self.env.cr)
        self.assertIn(callback.endpoint, state.paused)
        callback.invalidate_cache()
        self.assertEqual(callback.health_state, 'paused')
        callback.write({'active': False})
        self.assertEqual(callback.health_state, 'inactive')
        # the list's columns, read as the web client does for a page of callbacks
        [row] = self.Callback.with_context(active_test=False).search_read(
            [('id', '=', callback.id)], ['health_state', 'deliveries_24h', 'success_rate_24h', 'last_success_at'])
        self.assertEqual(row['health_state'], 'inactive')

    def test_the_deliveries_filters_failed_pending_and_today(self):
        from lxml import etree
        today = self.change()
        yesterday = self.change()
        self.env.cr.execute("UPDATE webhook_delivery SET create_date = %s WHERE id = %s",
                            (fields.Datetime.to_string(datetime.datetime.combine(
                                datetime.date.today(), datetime.time()) - datetime.timedelta(seconds=1)),
                             yesterday.id))
        self.receiver.answer(410)
        failed = self.change()
        failed._send_now()
        self.Delivery.invalidate_cache()
        search = etree.fromstring(self.Delivery.fields_view_get(view_type='search')['arch'])
        domains = {node.get('name'): node.get('domain') for node in search.iter('filter')}
        names = {'context_today': datetime.date.today}

        def matching(name):
            return self.Delivery.search(safe_eval(domains[name], names) + [('callback_id', '=', self.callback.id)])
        self.assertEqual(matching('failed'), failed)
        self.assertEqual(matching('pending'), today | yesterday)
        self.assertEqual(matching('today'), today | failed)
        # the graph and pivot views group them per day and state, per callback and state
        counts = self.Delivery.read_group([('callback_id', '=', self.callback.id)], ['state', 'create_date'],
                                          ['create_date:day', 'state'], lazy=False)
        self.assertEqual(sorted((row['state'], row['__count']) for row in counts),
                         [('failed', 1), ('pending', 1), ('pending', 1)])
