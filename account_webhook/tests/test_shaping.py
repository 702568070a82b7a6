# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Receivers that are APIs: a request shaped per callback (method, path and body templates), an
answer judged by its body (answer rule, message), the receiver's id kept and used, and batches;
against a real receiver on 127.0.0.1, in the test's transaction."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.exceptions import ValidationError
from odoo.tools import mute_logger

from .. import sender, shaping
from ..runtime import claiming, recording
from ..runtime.state import read_state
from .common import DeliveryCase
from .receiver import Receiver

FEW = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
RUNTIME_LOGGERS = tuple('odoo.addons.account_webhook.runtime.' + name for name in ('recording', 'outbox'))
SUCCESS = b'{"status": "successful", "data": {"id": 572}}'


class ShapingCase(DeliveryCase):

    @classmethod
    def setUpFixtures(cls):
        super(ShapingCase, cls).setUpFixtures()
        cls.api = Receiver()
        cls.callback.active = False  # DeliveryCase's callback: not part of these tests

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        super(ShapingCase, cls).tearDownClass()

    def setUp(self):
        super(ShapingCase, self).setUp()
        self.api.reset()

    def api_callback(self, **vals):
        values = dict(action='update', fields=('email',), url=self.api.url)
        values.update(vals)
        return self.make_callback(**values)

    def send(self, callback):
        """Claim what is due and send it as a dispatcher does (batches included); returns the deliveries."""
        state = read_state(self.env.cr)
        jobs = claiming.claim(self.env.cr, state, 50)
        connections = sender.Connections(state.settings.allowed_targets)
        try:
            results = [(job, sender.post_job(job, connections, state.settings)) for job in jobs]
        finally:
            connections.close()
        with mute_logger(*RUNTIME_LOGGERS):
            recording.record(self.env.cr, state, results, 'test')
        self.Delivery.invalidate_cache()
        return self.deliveries(callback)


class TestRequestShape(ShapingCase):

    def test_a_callback_without_a_shape_sends_the_event_as_before(self):
        callback = self.api_callback()
        self.new_transaction()
        self.partner.email = 'plain@example.com'
        [delivery] = self.send(callback)
        [received] = self.api.received
        self.assertEqual((received.method, received.path, received.body), ('POST', '/hook', delivery.payload.encode()))
        self.assertEqual(delivery.state, 'done')

    def test_method_path_and_body_templates_shape_the_request(self):
        callback = self.api_callback(method='PUT', path_template='/contacts/{id}/{email}',
                                     body_template="{'mail': values['email'], 'op': operation, 'n': len(changed)}")
        self.new_transaction()
        self.partner.email = 'shaped@example.com'
        [delivery] = self.send(callback)
        [received] = self.api.received
        self.assertEqual(received.method, 'PUT')
        self.assertEqual(received.path, '/hook/contacts/%d/shaped%%40example.com' % self.partner.id)
        self.assertEqual(received.json, {'mail': 'shaped@example.com', 'op': 'update', 'n': 1})
        self.assertEqual(received.headers['webhook-id'], delivery.event_id)
        self.assertEqual(delivery.state, 'done')

    def test_the_preview_renders_the_request_for_the_sample_record(self):
        callback = self.api_callback(path_template='/contacts/{id}', body_template="{'mail': values['email']}")
        self.assertTrue(callback.request_preview.startswith('POST %s/contacts/' % self.api.url))
        self.assertIn('"mail"', callback.request_preview)

    def test_templates_that_cannot_work_are_refused_at_save_and_nothing_is_saved(self):
        callback = self.api_callback()
        for vals, message in (
                ({'body_template': "().__class__"}, 'names starting with _ are private'),
                ({'body_template': "__import__('os')"}, 'names starting with _ are private'),
                ({'body_template': "values['no_such_field']"}, 'no_such_field'),
                ({'body_template': "2 ** 999999"}, '** is not allowed'),
                ({'body_template': "'x' * 100000000"}, 'repeating a text'),
                ({'body_template': "lambda: 1"}, 'lambda'),
                ({'body_template': "{'a': "}, 'not a Python expression'),
                ({'path_template': '/items/{nope}'}, '{nope} is neither'),
                ({'path_template': 'no-slash'}, 'must start with /'),
                ({'answer_rule': 'status =='}, 'not a Python expression'),
                ({'receiver_id_path': 'data id'}, 'dotted path'),
                ({'batch_size': 0}, 'Events per request'),
                ({'batch_size': 5000}, 'Events per request')):
            with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
                callback.write(vals)
            self.assertIn(message, str(caught.exception), vals)
            callback.invalidate_cache()
            self.assertFalse(callback.body_template or callback.path_template or callback.answer_rule)
            self.assertEqual(callback.batch_size, 1)

    def test_a_template_that_fails_for_one_event_fails_that_delivery_only(self):
        callback = self.api_callback(body_template="{'mail': values['email'].upper()}")
        other = self.env['res.partner'].create({'name': 'Other', 'email': 'other@example.com'})
        self.new_transaction()
        self.partner.email = False  # False has no upper(): this event cannot be rendered
        other.email = 'second@example.com'
        first, second = self.send(callback)
        self.assertEqual(first.state, 'failed')
        self.assertIn('template: Body template:', first.last_error)
        self.assertEqual(second.state, 'done')
        self.assertEqual([r.json for r in self.api.received], [{'mail': 'SECOND@EXAMPLE.COM'}])


class TestAnswers(ShapingCase):

    def test_a_2xx_that_breaks_the_answer_rule_is_a_failure_with_the_apis_message(self):
        callback = self.api_callback(answer_rule='status == "successful"', answer_message_path='message')
        self.api.answer(200, body=b'{"status": "error", "message": "amount is required"}')
        self.new_transaction()
        self.partner.email = 'refused@example.com'
        [delivery] = self.send(callback)
        self.assertEqual((delivery.state, delivery.attempt_count), ('pending', 1), 'retried on the schedule')
        self.assertEqual(delivery.last_error, 'refused by the receiver: amount is required')
        self.assertFalse(delivery.attempt_ids.success)
        self.env.cr.execute('SELECT count(*) FROM webhook_endpoint WHERE consecutive_failures > 0')
        self.assertEqual(self.env.cr.fetchone()[0], 0, 'the receiver answered: no endpoint failure')
        # an answer that is not JSON cannot satisfy the rule: refused, saying so
        self.api.answer(200, body=b'<html>oops</html>')
        self.env.cr.execute("UPDATE webhook_delivery SET next_attempt_at = now() at time zone 'UTC' - interval '1s'")
        [delivery] = self.send(callback)
        self.assertIn('the answer is not JSON', delivery.last_error)
        self.env.cr.execute("UPDATE webhook_delivery SET next_attempt_at = now() at time zone 'UTC' - interval '1s'")
        [delivery] = self.send(callback)  # the default answer of the receiver: successful
        self.assertEqual(delivery.state, 'done')

    def test_the_receivers_id_is_kept_and_used_by_the_next_callbacks_of_the_url(self):
        create = self.api_callback(action='create', fields=('name',), path_template='/items/create/{id}',
                                   receiver_id_path='data.id', answer_rule='status == "successful"')
        update = self.api_callback(fields=('email',), method='PUT', path_template='/items/{receiver_id}')
        self.new_transaction()
        partner = self.env['res.partner'].create({'name': 'Has an id over there'})
        self.api.answer(200, body=SUCCESS)
        self.send(create)
        [created] = self.deliveries(create)
        self.assertEqual(created.receiver_id, '572')
        ref = self.env['webhook.receiver.ref'].search([('res_model', '=', 'res.partner'), ('res_id', '=', partner.id)])
        self.assertEqual((ref.callback_id, ref.receiver_id), (create, '572'))
        self.new_transaction()
        partner.email = 'now@example.com'
        [updated] = self.send(update)
        self.assertEqual(updated.state, 'done')
        self.assertEqual([(r.method, r.path) for r in self.api.received],
                         [('POST', '/hook/items/create/%d' % partner.id), ('PUT', '/hook/items/572')])

    def test_an_update_whose_receiver_id_is_unknown_fails_saying_so(self):
        update = self.api_callback(path_template='/items/{receiver_id}')
        self.new_transaction()
        self.partner.email = 'no-id@example.com'
        [delivery] = self.send(update)
        self.assertEqual(delivery.state, 'failed')
        self.assertIn('{receiver_id} is not known yet', delivery.last_error)
        self.assertFalse(self.api.received)


class TestBatches(ShapingCase):

    def change_many(self, count):
        partners = self.env['res.partner']
        for i in range(count):
            partners |= self.env['res.partner'].create({'name': 'Batch %d' % i})
        self.new_transaction()
        for i, partner in enumerate(partners):
            partner.email = 'batch-%d@example.com' % i
        return partners

    def test_events_go_in_batches_each_with_its_attempt(self):
        callback = self.api_callback(batch_size=3)
        partners = self.change_many(5)
        deliveries = self.send(callback)
        self.assertEqual([len(r.json) for r in self.api.received], [3, 2])
        sent = [event['id'] for r in self.api.received for event in r.json]
        self.assertEqual(sent, partners.ids)
        self.assertEqual([r.body for r in self.api.received][0],
                         ('[%s]' % ','.join(deliveries[:3].mapped('payload'))).encode())
        self.assertEqual(set(deliveries.mapped('state')), {'done'})
        self.assertEqual(sorted(deliveries.mapped('attempt_ids.request_size')), [2, 2, 3, 3, 3])
        self.assertNotIn(self.api.received[0].headers['webhook-id'], deliveries.mapped('event_id'))

    def test_a_batch_body_template_sees_the_events(self):
        callback = self.api_callback(batch_size=10, body_template="{'items': [e['values']['email'] for e in events]}")
        self.change_many(3)
        self.send(callback)
        [received] = self.api.received
        self.assertEqual(received.json, {'items': ['batch-0@example.com', 'batch-1@example.com',
                                                   'batch-2@example.com']})

    def test_a_failed_batch_retries_each_of_its_events(self):
        callback = self.api_callback(batch_size=10)
        self.change_many(3)
        self.api.answer(503)
        deliveries = self.send(callback)
        self.assertEqual(deliveries.mapped('state'), ['pending'] * 3)
        self.assertEqual(deliveries.mapped('attempt_count'), [1, 1, 1])

    def test_the_rate_limit_counts_requests_not_events(self):
        callback = self.api_callback(batch_size=3, rate_limit=2)
        self.change_many(9)
        deliveries = self.send(callback)
        self.assertEqual(len(self.api.received), 2, 'two requests a minute')
        self.assertEqual(len(deliveries.filtered(lambda d: d.state == 'done')), 6)
        self.send(callback)
        self.assertEqual(len(self.api.received), 2, 'the allowance is spent')


class TestShapingProperties(ShapingCase):

    @FEW
    @given(st.binary(max_size=300), st.sampled_from(['status == "successful"', 'answer["a"] > 1', 'len(answer)',
                                                      'data["id"]', '']),
           st.sampled_from(['', 'message', 'data.id', 'a.0.b']))
    def test_judging_any_answer_gives_a_verdict_or_a_shape_error(self, answer, rule, path):
        try:
            accepted, message, receiver_id = shaping.judge(rule, path, path, 200, answer)
        except shaping.ShapeError:
            return
        self.assertIsInstance(accepted, bool)
        self.assertTrue(receiver_id is None or (isinstance(receiver_id, str) and len(receiver_id) <= 200))
        self.assertTrue(message is None or isinstance(message, str))

    @FEW
    @given(st.dictionaries(st.text(min_size=1, max_size=10), st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
        st.lists(st.integers(), max_size=3)), max_size=5), st.text(max_size=30))
    def test_rendering_a_path_for_any_values_gives_a_path_or_a_shape_error(self, values, name):
        event = {'object': 'res.partner', 'operation': 'update', 'id': 7, 'values': values}
        try:
            path = shaping.render_path('/x/{id}/{%s}' % name if name.isidentifier() else '/x/{id}', event, None)
        except shaping.ShapeError:
            return
        self.assertTrue(path.startswith('/x/7'))
        self.assertFalse(set(path) & set(' \r\n#?'), path)

    def test_a_batch_without_a_template_is_the_events_byte_for_byte(self):
        events = [json.dumps({'id': i}) for i in range(3)]
        self.assertEqual(shaping.render_body('', events, [None] * 3, batch=True), b'[{"id": 0},{"id": 1},{"id": 2}]')
