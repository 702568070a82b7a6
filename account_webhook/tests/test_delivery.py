# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import json
import logging

from odoo import fields
from odoo.tools import mute_logger

from ..models.webhook_record import written_by_addon
from ..runtime.state import read_settings
from .common import DeliveryCase
from .receiver import Receiver

DELIVERY_LOGGER = 'odoo.addons.account_webhook.runtime'  # its modules' records reach it (assertLogs)
RUNTIME_LOGGERS = tuple('odoo.addons.account_webhook.runtime.' + name for name in ('state', 'recording', 'outbox'))


class TestSending(DeliveryCase):

    def test_success_posts_the_stored_payload_byte_for_byte_and_signed(self):
        from standardwebhooks.webhooks import Webhook
        delivery = self.change()
        delivery._send_now()
        [request] = self.receiver.received
        self.assertEqual(request.body, delivery.payload.encode('utf-8'))
        self.assertEqual(request.headers['Content-Type'], 'application/json')
        self.assertEqual(request.headers['webhook-id'], delivery.event_id)
        self.assertTrue(request.headers['webhook-signature'].startswith('v1,'))
        # an independent implementation verifies it with the callback's key as the secret
        verified = Webhook(self.callback.key).verify(request.body, {
            'webhook-id': request.headers['webhook-id'],
            'webhook-timestamp': request.headers['webhook-timestamp'],
            'webhook-signature': request.headers['webhook-signature']})
        self.assertEqual(verified['id'], self.partner.id)
        self.assertEqual((delivery.state, delivery.attempt_count, delivery.last_status_code), ('done', 1, 200))
        self.assertTrue(delivery.done_at)
        [attempt] = delivery.attempt_ids
        self.assertEqual((attempt.status_code, attempt.success, attempt.response_excerpt),
                         (200, True, '{"status": "successful"}'))
        self.assertGreaterEqual(attempt.duration_ms, 0)

    def test_the_key_is_never_sent_nor_logged(self):
        delivery = self.change()
        with self.assertLogs('odoo.addons.account_webhook', logging.DEBUG) as logs:
            self.receiver.answer(500, body=b'boom')
            logging.getLogger('odoo.addons.account_webhook').debug('capture of logs starts')
            delivery._send_now()
        [request] = self.receiver.received
        key = self.callback.key
        self.assertNotIn(key, request.body.decode('utf-8'))
        self.assertNotIn(key, json.dumps(request.headers))
        self.assertNotIn(key, '\n'.join(logs.output))
        self.assertNotIn(key, delivery.payload)

    def test_500_then_200_is_delivered_once_on_the_retry(self):
        delivery = self.change()
        self.receiver.answer(500, body=b'temporary trouble')
        delivery._send_now()
        self.assertEqual((delivery.state, delivery.attempt_count, delivery.last_status_code), ('pending', 1, 500))
        self.assertIn('temporary trouble', delivery.last_error)
        # 5 s +-20 %, stored to the second
        self.assertTrue(2.9 <= self.seconds_from_now(delivery.next_attempt_at) <= 6.1)
        delivery._send_now()
        self.assertEqual((delivery.state, delivery.attempt_count), ('done', 2))
        first, second = self.receiver.received
        self.assertEqual(first.headers['webhook-id'], second.headers['webhook-id'])
        self.assertEqual(first.body, second.body)
        self.assertEqual(delivery.attempt_ids.mapped('status_code'), [200, 500])

    def test_timeout_is_retried(self):
        self.Params.set_param('account_webhook.timeout_total', '1')
        delivery = self.change()
        self.receiver.answer(200, delay=2)
        delivery._send_now()
        self.assertEqual(delivery.state, 'pending')
        self.assertIn('timeout', delivery.last_error)
        self.assertLess(delivery.attempt_ids.duration_ms, 1900)

    def test_malformed_parameters_are_reported_and_defaults_used(self):
        # refused when written (test_hostile_input), but a database can hold them from before
        self.store_raw_param('account_webhook.timeout_total', 'fifteen')
        self.store_raw_param('account_webhook.retry_schedule', '5,soon')
        delivery = self.change()
        self.receiver.answer(500)
        with self.assertLogs(DELIVERY_LOGGER, 'WARNING') as logs:
            delivery._send_now()
        self.assertEqual(delivery.state, 'pending')  # retried on the default schedule
        self.assertTrue(2.9 <= self.seconds_from_now(delivery.next_attempt_at) <= 6.1)
        output = '\n'.join(logs.output)
        self.assertIn('timeout_total', output)
        self.assertIn('retry_schedule', output)
        self.assertEqual(read_settings(self.env.cr).timeouts, (5.0, 15.0))

    def test_refused_connection_is_retried(self):
        closed = Receiver()
        closed.close()
        self.callback.url = closed.url
        delivery = self.change()
        delivery._send_now()
        self.assertEqual((delivery.state, delivery.last_status_code), ('pending', 0))
        self.assertIn('connection error', delivery.last_error)

    def test_429_honours_retry_after(self):
        delivery = self.change()
        self.receiver.answer(429, headers={'Retry-After': '120'})
        delivery._send_now()
        self.assertEqual(delivery.state, 'pending')
        self.assertTrue(118 <= self.seconds_from_now(delivery.next_attempt_at) <= 121)

    def test_503_honours_a_retry_after_date(self):
        from email.utils import format_datetime
        delivery = self.change()
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=600)
        self.receiver.answer(503, headers={'Retry-After': format_datetime(when, usegmt=True)})
        delivery._send_now()
        self.assertTrue(595 <= self.seconds_from_now(delivery.next_attempt_at) <= 601)

    def test_410_deactivates_the_callback(self):
        delivery = self.change()
        self.receiver.answer(410)
        with mute_logger(*RUNTIME_LOGGERS):
            delivery._send_now()
        self.assertEqual(delivery.state, 'failed')
        self.assertFalse(self.callback.active)
        self.assertIn('410', self.callback.inactive_reason)
        self.partner.write({'email': 'after-410@example.com'})
        self.assertEqual(self.Delivery.search_count([('callback_id', '=', self.callback.id),
                                                     ('state', '=', 'pending')]), 0)

    def test_redirects_are_not_followed(self):
        delivery = self.change()
        self.receiver.answer(302, headers={'Location': self.receiver.url + '/elsewhere'})
        delivery._send_now()
        self.assertEqual(len(self.receiver.received), 1)
        self.assertEqual((delivery.state, delivery.last_status_code), ('pending', 302))

    def test_retries_exhausted_is_failed(self):
        delivery = self.give_up_on('1,1')
        self.assertEqual((delivery.state, delivery.attempt_count), ('failed', 3))
        self.assertEqual(len(delivery.attempt_ids), 3)


class TestTargets(DeliveryCase):

    def assertRefusedTarget(self, url, allowed=''):
        self.Params.set_param('account_webhook.allowed_targets', allowed)
        self.callback.url = url
        delivery = self.change()
        with self.assertLogs(DELIVERY_LOGGER, 'WARNING') as logs:
            delivery._send_now()
        self.assertEqual(delivery.state, 'failed')
        self.assertIn('not a public address', delivery.attempt_ids.error)
        self.assertIn('refused', logs.output[0])
        self.assertEqual(self.receiver.received, [])

    def test_loopback_is_refused_without_the_allow_list(self):
        self.assertRefusedTarget(self.receiver.url)

    def test_a_name_resolving_to_a_private_address_is_refused(self):
        self.assertRefusedTarget(self.receiver.url.replace('127.0.0.1', 'localhost'))

    def test_link_local_metadata_address_is_refused(self):
        self.assertRefusedTarget('http://169.254.169.254/latest/meta-data', allowed='10.0.0.0/8')

    def test_allow_list_takes_names_addresses_and_networks(self):
        by_name = self.receiver.url.replace('127.0.0.1', 'localhost')
        for allowed, url in (('localhost', by_name), ('127.0.0.1', self.receiver.url),
                             ('127.0.0.0/8', self.receiver.url), ('example.com, 127.0.0.0/24', self.receiver.url),
                             ('127.0.0.1, ::1', by_name)):
            self.Params.set_param('account_webhook.allowed_targets', allowed)
            self.callback.url = url
            delivery = self.change()
            delivery._send_now()
            self.assertEqual(delivery.state, 'done', allowed)


class TestOrderAndLimits(DeliveryCase):

    def partners(self, count, prefix):
        return [self.env['res.partner'].create({'name': '%s %d' % (prefix, i)}) for i in range(count)]

    def test_first_attempts_go_before_retries(self):
        retry = self.change()
        self.env.cr.execute("UPDATE webhook_delivery SET attempt_count = 1 WHERE id = %s", (retry.id,))
        firsts = [self.change(partner=p) for p in self.partners(2, 'First')]
        self.assertEqual(self.claim(2), firsts[0] | firsts[1], 'the retry waits for free capacity')
        self.assertEqual(self.claim(2), retry)

    def test_claims_are_fair_across_endpoints(self):
        other = self.make_callback(action='update', fields=('email',), url=self.receiver.url.replace(
            '127.0.0.1', 'localhost'))  # another endpoint: scheme://host:port differs
        busy = [self.change(partner=p) for p in self.partners(10, 'Busy')]  # queued first, to one endpoint
        self.assertEqual(len(busy), 10)
        quiet = self.Delivery.search([('callback_id', '=', other.id)])
        self.assertEqual(len(quiet), 10, 'the same changes, to the other callback')
        claimed = self.claim(4)
        self.assertEqual(sorted(d.callback_id.id for d in claimed), sorted([self.callback.id] * 2 + [other.id] * 2))

    def test_per_endpoint_limit_counts_every_callback_of_the_endpoint(self):
        self.Params.set_param('account_webhook.per_endpoint', '3')
        twin = self.make_callback(action='update', fields=('email',), url=self.receiver.url + '/other-path')
        for partner in self.partners(4, 'Twin'):
            self.change(partner=partner)
        self.assertEqual(len(self.Delivery.search([('callback_id', 'in', (self.callback | twin).ids)])), 8)
        self.assertEqual(len(self.claim(50)), 3, 'both callbacks post to one endpoint')

    def test_a_later_event_waits_for_an_earlier_one_of_the_same_record(self):
        first = self.change(email='one@example.com')
        second = self.change(email='two@example.com')
        other_partner = self.env['res.partner'].create({'name': 'Other', 'email': 'o@example.com'})
        other = self.change(partner=other_partner, email='o2@example.com')
        self.assertEqual(self.claim(), first | other)
        self.receiver.answer(500)
        (first | other)._send_now()  # first fails and will be retried; other is done
        self.assertEqual((first.state, other.state), ('pending', 'done'))
        written_by_addon(first).next_attempt_at = fields.Datetime.now()  # its retry is due
        self.assertEqual(self.claim(), first, 'the update never overtakes the earlier event')
        first._send_now()
        self.assertEqual(self.claim(), second)

    def test_rate_limit_defers_instead_of_dropping(self):
        self.callback.rate_limit = 2
        partners = [self.env['res.partner'].create({'name': 'R%d' % i, 'email': 'r%d@x.com' % i})
                    for i in range(3)]
        deliveries = [self.change(partner=p) for p in partners]
        claimed = self.claim()
        self.assertEqual(len(claimed), 2)
        claimed._send_now()
        waiting = [d for d in deliveries if d not in claimed][0]
        self.assertEqual(waiting.state, 'pending')
        self.assertFalse(self.claim(), 'two calls in the last minute already')
        self.env.cr.execute("UPDATE webhook_delivery_attempt SET attempted_at = attempted_at - interval '61 s' "
                            "WHERE callback_id = %s", (self.callback.id,))
        self.assertEqual(self.claim(), waiting, 'its turn came when the minute passed')

    def test_claim_takes_over_an_expired_lease(self):
        delivery = self.change()
        self.assertEqual(self.claim(), delivery)
        self.assertEqual(delivery.state, 'sending')
        self.assertFalse(self.claim(), 'leased to another worker')
        self.env.cr.execute("UPDATE webhook_delivery SET lease_until = now() at time zone 'UTC' - interval '1 s'"
                            " WHERE id = %s", (delivery.id,))
        self.assertEqual(self.claim(), delivery)

    def test_inactive_callbacks_are_not_sent(self):
        delivery = self.change()
        self.callback.active = False
        self.assertFalse(self.claim())
        self.callback.active = True
        self.assertEqual(self.claim(), delivery)


class TestActionsAndHousekeeping(DeliveryCase):

    def test_resend_keeps_the_event_id(self):
        delivery = self.change()
        delivery._send_now()
        delivery.action_resend()
        self.assertEqual(delivery.state, 'pending')
        delivery._send_now()
        first, second = self.receiver.received
        self.assertEqual(first.headers['webhook-id'], second.headers['webhook-id'])
        self.assertEqual(first.body, second.body)

    def test_retry_all_failed_deliveries_of_a_callback(self):
        delivery = self.give_up_on('1')
        self.assertEqual((delivery.state, delivery.attempt_count), ('failed', 2))
        self.assertEqual(self.callback.action_retry_failed(), 1)
        self.assertEqual(delivery.state, 'pending')
        delivery._send_now()
        self.assertEqual(delivery.state, 'done')

    def test_send_test_event_shows_the_result(self):
        action = self.callback.action_send_test_event()
        ping = self.Delivery.browse(action['res_id'])
        self.assertEqual((ping.operation, ping.state), ('ping', 'done'))
        [request] = self.receiver.received
        self.assertEqual((request.json['operation'], request.json['object']), ('ping', 'res.partner'))
        self.assertEqual(request.headers['webhook-id'], ping.event_id)

    def test_callback_failing_for_five_days_is_deactivated_with_a_reason(self):
        healthy = self.make_callback(action='update', fields=('email',), url=self.receiver.url)
        delivery = self.change()
        self.env.cr.execute("""
            INSERT INTO webhook_delivery_attempt (delivery_id, callback_id, attempted_at, status_code, success)
            VALUES (%(d)s, %(c)s, now() at time zone 'UTC' - interval '6 days', 500, false),
                   (%(d)s, %(c)s, now() at time zone 'UTC' - interval '1 hour', 500, false),
                   (%(d)s, %(h)s, now() at time zone 'UTC' - interval '6 days', 500, false),
                   (%(d)s, %(h)s, now() at time zone 'UTC' - interval '2 days', 200, true)
        """, {'d': delivery.id, 'c': self.callback.id, 'h': healthy.id})
        with mute_logger('odoo.addons.account_webhook.models.webhook_callback'):
            self.Callback._deactivate_failing()
        self.assertFalse(self.callback.active)
        self.assertIn('5 days', self.callback.inactive_reason)
        self.assertTrue(healthy.active)

    def test_old_done_deliveries_are_cleaned_failed_ones_kept(self):
        old_done, old_failed = self.change(), self.change(email='other@example.com')
        self.env.cr.execute("""UPDATE webhook_delivery SET state = CASE WHEN id = %s THEN 'done' ELSE 'failed' END,
                               done_at = now() at time zone 'UTC' - interval '31 days' WHERE id IN %s""",
                            (old_done.id, (old_done.id, old_failed.id)))
        fresh = self.change(email='fresh@example.com')
        fresh._send_now()
        self.Delivery._cron_housekeeping()
        self.assertEqual((old_done.exists(), old_failed.exists(), fresh.exists()),
                         (self.Delivery, old_failed, fresh))


class TestCircuitBreaker(DeliveryCase):

    def setUp(self):
        super(TestCircuitBreaker, self).setUp()
        for key, value in (('breaker_threshold', '3'), ('breaker_cooldown', '1'), ('retry_schedule', '0,0,0,0,0')):
            self.Params.set_param('account_webhook.' + key, value)
        self.others = [self.change(partner=self.env['res.partner'].create({'name': 'B%d' % i})) for i in range(3)]

    def send_claimed(self):
        claimed = self.claim()
        with mute_logger(*RUNTIME_LOGGERS):
            claimed._send_now()
        return claimed

    def test_opens_after_n_failures_probes_after_the_cool_down_closes_on_success(self):
        self.assertEqual(self.callback.health_state, 'healthy')
        for _i in range(3):
            self.receiver.answer(500)
        self.assertEqual(len(self.send_claimed()), 3)
        self.callback.invalidate_cache()
        self.assertEqual(self.callback.health_state, 'paused')
        self.assertIn('3 failures in a row', self.callback.health)
        self.assertFalse(self.claim(), 'retries are due, but the endpoint cools down')
        self.env.cr.execute("UPDATE webhook_endpoint SET paused_until = paused_until - interval '2 s'")
        self.receiver.answer(503)
        probe = self.send_claimed()
        self.assertEqual(len(probe), 1, 'one delivery probes the endpoint')
        self.callback.invalidate_cache()
        self.assertEqual(self.callback.health_state, 'paused', 'a failed probe pauses it again')
        self.assertFalse(self.claim())
        self.env.cr.execute("UPDATE webhook_endpoint SET paused_until = paused_until - interval '2 s'")
        self.assertEqual(len(self.send_claimed()), 1, 'one probe again')
        self.callback.invalidate_cache()
        self.assertEqual(self.callback.health_state, 'healthy', 'a success closes it')
        self.send_claimed()
        self.assertEqual(set(d.state for d in self.others), {'done'})
        self.assertEqual(len(self.receiver.received), 3 + 1 + 1 + 2)

    def test_client_errors_do_not_open_it(self):
        for _i in range(3):
            self.receiver.answer(422)
        self.send_claimed()
        self.callback.invalidate_cache()
        self.assertEqual(self.callback.health_state, 'healthy')
        self.assertEqual(len(self.claim()), 3, 'retried on schedule, nothing paused')

    def test_failures_below_the_threshold_show_as_failing(self):
        self.receiver.answer(500)
        self.receiver.answer(500)
        self.claim()
        with mute_logger(*RUNTIME_LOGGERS):
            self.others[0]._send_now()
            self.others[1]._send_now()
        self.callback.invalidate_cache()
        self.assertEqual(self.callback.health_state, 'failing')
        self.assertIn('Failing since', self.callback.health)


class TestExtraHeaders(DeliveryCase):
    SECRET = 'Bearer s3cr3t-token-for-the-receiver'

    def test_extra_headers_reach_the_receiver_and_are_neither_logged_nor_stored(self):
        self.callback.write({'headers': 'Authorization: %s\nApikey: k-123\r\n\n' % self.SECRET})
        delivery = self.change()
        with self.assertLogs('odoo.addons.account_webhook', logging.DEBUG) as logs:
            logging.getLogger('odoo.addons.account_webhook').debug('capture of logs starts')
            self.receiver.answer(500, body=b'try again')
            delivery._send_now()
            delivery._send_now()
        first, second = self.receiver.received
        for request in (first, second):
            self.assertEqual(request.headers['Authorization'], self.SECRET)
            self.assertEqual(request.headers['Apikey'], 'k-123')
            # the signature headers stay as they are
            self.assertEqual(request.headers['webhook-id'], delivery.event_id)
            self.assertEqual(request.headers['Content-Type'], 'application/json')
        self.assertEqual(delivery.state, 'done')
        self.assertNotIn('s3cr3t', '\n'.join(logs.output))
        stored = [delivery.payload, delivery.last_error or ''] + [
            '%s %s %s' % (a.response_excerpt, a.error, a.status_code) for a in delivery.attempt_ids]
        self.assertEqual(len(delivery.attempt_ids), 2)
        self.assertNotIn('s3cr3t', '\n'.join(stored))
        self.assertNotIn('k-123', '\n'.join(stored))
        self.assertNotIn('headers', delivery.read()[0])

    def test_a_callback_may_set_its_own_user_agent(self):
        self.callback.write({'headers': 'User-Agent: erp-connector/1.0'})
        self.change()._send_now()
        [request] = self.receiver.received
        self.assertEqual(request.headers['User-Agent'], 'erp-connector/1.0')

    def test_reserved_malformed_or_broken_headers_are_refused(self):
        from odoo.exceptions import ValidationError
        cases = [
            ('webhook-signature: v1,forged', 'Extra headers: webhook-signature cannot be set'),
            ('Webhook-Id: x', 'Extra headers: Webhook-Id cannot be set'),
            ('Content-Type: text/plain', 'Extra headers: Content-Type cannot be set'),
            ('content-length: 1', 'Extra headers: content-length cannot be set'),
            ('Host: evil.example.com', 'Extra headers: Host cannot be set'),
            ('Bad Name: x', 'Extra headers: "Bad Name" is not a valid header name'),
            ('Authorization Bearer x', 'Extra headers: each line must be "Name: value"'),
            ('Apikey: a\rInjected: b', 'Extra headers: the value of Apikey contains a line break'),
            ('Apikey: a\nApikey: b', 'Extra headers: Apikey is given twice'),
            ('Apikey: caf\u00e9', 'Extra headers: the value of Apikey must be printable ASCII'),
        ]
        for text, message in cases:
            with self.assertRaises(ValidationError) as error, self.env.cr.savepoint():
                self.callback.write({'headers': text})
            self.assertIn(message, error.exception.name)
        self.assertFalse(self.callback.headers)

    def test_an_accountant_cannot_read_them(self):
        from odoo.exceptions import AccessError
        self.callback.write({'headers': 'Apikey: k-123'})
        with self.assertRaises(AccessError):
            self.callback.sudo(self.accountant).read(['headers'])
        # a Settings administrator can
        self.assertEqual(self.callback.sudo(self.settings_admin).headers, 'Apikey: k-123')
