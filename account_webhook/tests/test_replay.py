# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import xmlrpc.client

from odoo import fields
from odoo.exceptions import UserError, ValidationError

from .. import payload
from .common import DeliveryCase

DAY = datetime.datetime(2026, 3, 10)


def at(hours, minutes=0):
    """A time of DAY (UTC), as Odoo writes datetimes."""
    return fields.Datetime.to_string(DAY + datetime.timedelta(hours=hours, minutes=minutes))


class ReplayCase(DeliveryCase):
    """DeliveryCase's receiver and callback, a second callback on it, no replay left over."""

    @classmethod
    def setUpFixtures(cls):
        super(ReplayCase, cls).setUpFixtures()
        cls.Replay = cls.env['webhook.replay']
        cls.Replay.search([]).unlink()
        cls.other = cls.make_callback(action='update', fields=('email',), url=cls.receiver.url + '/other')

    def delivery(self, created, state='failed', callback=None):
        """An outbox row of ``callback`` recorded at ``created`` (UTC), in ``state``."""
        callback = callback or self.callback
        event_id = payload.new_event_id()
        self.Delivery._enqueue([(callback.id, event_id, 'res.partner', 1, 'update', payload.dumps(
            'res.partner', 'update', 1, {'email': 'a@example.com'}, event_id, payload.utc_timestamp()))])
        self.env.cr.execute("""UPDATE webhook_delivery SET create_date = %s, state = %s, attempt_count = 8,
                                      next_attempt_at = NULL WHERE event_id = %s RETURNING id""",
                            (created, state, event_id))
        delivery = self.Delivery.browse(self.env.cr.fetchone()[0])
        delivery.invalidate_cache()
        return delivery

    def states(self, deliveries):
        deliveries.invalidate_cache()
        return [d.state for d in deliveries]

    def replay(self, **vals):
        values = {'callback_id': self.callback.id, 'date_from': at(8), 'date_to': at(18)}
        values.update(vals)
        return self.Replay.create(values)

    def snapshot(self):
        """What a refused replay must leave as it was: every delivery, every replay, the chatter."""
        self.env.cr.execute('SELECT id, state, next_attempt_at, write_date FROM webhook_delivery ORDER BY id')
        deliveries = self.env.cr.fetchall()
        self.env.cr.execute('SELECT id, state, total, count FROM webhook_replay ORDER BY id')
        replays = self.env.cr.fetchall()
        messages = self.env['mail.message'].search_count([('model', '=', 'webhook.callback')])
        return deliveries, replays, messages


class TestReplay(ReplayCase):

    def test_failed_deliveries_of_the_period_are_queued_again_with_their_event_ids(self):
        before = self.delivery(at(7, 59))
        first, second = self.delivery(at(8)), self.delivery(at(12))
        last = self.delivery(at(18))
        after = self.delivery(at(18, 1))
        delivered = self.delivery(at(12), state='done')
        pending = self.delivery(at(12), state='pending')
        others = self.delivery(at(12), callback=self.other)
        event_ids = {d.id: d.event_id for d in first | second | last}
        payloads = {d.id: d.payload for d in first | second | last}
        replay = self.replay()
        self.assertEqual((replay.replay_failed, replay.replay_done, replay.state), (True, False, 'draft'))
        action = replay.action_replay()
        self.assertEqual((replay.state, replay.total, replay.count), ('running', 3, 0))
        self.assertEqual(action['res_id'], replay.id)
        self.assertEqual(action['name'], 'Replay: 3 deliveries will be resent')
        self.assertEqual(replay.asked_by, self.env.user)
        self.assertEqual(self.Replay._cron_replay(), 3)
        self.assertEqual(self.states(first | second | last), ['pending'] * 3)
        self.assertEqual([(d.event_id, d.payload) for d in first | second | last],
                         [(event_ids[d.id], payloads[d.id]) for d in first | second | last])
        for delivery in first | second | last:
            self.assertFalse(delivery.lease_until)
            self.assertLessEqual(delivery.next_attempt_at, fields.Datetime.now())
        self.assertEqual(self.states(before | after | delivered | pending | others),
                         ['failed', 'failed', 'done', 'pending', 'failed'])
        self.assertEqual((replay.state, replay.count), ('done', 3))
        self.assertTrue(replay.done_at)
        self.assertEqual(replay.progress, 'Replay done: 3 deliveries queued again on %s UTC' % replay.done_at)

    def test_delivered_ones_when_chosen(self):
        failed, delivered = self.delivery(at(9)), self.delivery(at(10), state='done')
        only_done = self.replay(replay_failed=False, replay_done=True)
        only_done.action_replay()
        self.Replay._cron_replay()
        self.assertEqual(self.states(failed | delivered), ['failed', 'pending'])
        both = self.replay(replay_done=True)
        self.assertEqual(both.match_count, 1)  # the delivered one is pending now
        both.action_replay()
        self.Replay._cron_replay()
        self.assertEqual(self.states(failed | delivered), ['pending', 'pending'])
        self.assertEqual((only_done.count, both.count), (1, 1))

    def test_the_receiver_gets_the_same_webhook_id_again(self):
        self.env['ir.config_parameter'].set_param('account_webhook.retry_schedule', '5')
        delivery = self.delivery(at(10), state='pending')
        self.env.cr.execute('UPDATE webhook_delivery SET attempt_count = 0 WHERE id = %s', (delivery.id,))
        delivery.invalidate_cache()
        for _attempt in range(2):
            self.receiver.answer(500)
            delivery._send_now()
        self.assertEqual(delivery.state, 'failed')
        self.env.cr.execute('UPDATE webhook_delivery SET create_date = %s WHERE id = %s', (at(10), delivery.id))
        self.replay().action_replay()
        self.Replay._cron_replay()
        self.assertEqual(self.states(delivery), ['pending'])
        delivery._send_now()  # the dispatchers see committed rows only: sent here as they would
        self.assertEqual(delivery.state, 'done')
        first, second, third = self.receiver.received
        self.assertEqual({r.headers['webhook-id'] for r in (first, second, third)}, {delivery.event_id})
        self.assertEqual(third.body, first.body)

    def test_batches_are_bounded_and_give_the_same_result(self):
        rows = [self.delivery(at(9, minute)) for minute in range(5)]
        interleaved = [self.delivery(at(9, minute), state='done') for minute in range(5)]
        # rows recorded at the same time: ordered by id
        rows += [self.delivery(at(9, 2)) for _i in range(2)]
        replay = self.replay()
        replay.action_replay()
        self.assertEqual(replay.total, 7)
        batches = []
        while replay.state == 'running':
            read, queued = replay._replay_batch(batch_size=2)
            self.env.cr.execute("SELECT count(*) FROM webhook_delivery WHERE state = 'pending'")
            batches.append((read, queued, self.env.cr.fetchone()[0]))
        # (create_date, id) order, each batch reading and writing at most 2 rows; the delivered
        # ones are read, not queued; the 6th batch is full, the 7th empty: done
        self.assertEqual(batches, [(2, 1, 1), (2, 1, 2), (2, 1, 3), (2, 2, 5), (2, 1, 6), (2, 1, 7), (0, 0, 7)])
        self.assertEqual(self.states(self.Delivery.browse([r.id for r in rows])), ['pending'] * 7)
        self.assertEqual(self.states(self.Delivery.browse([r.id for r in interleaved])), ['done'] * 5)
        self.assertEqual(replay.count, 7)
        self.assertIsNone(replay._replay_batch(batch_size=2))  # done: nothing more to do
        # an exact multiple of the batch size ends with an empty batch; the cron's loop does the same
        self.env.cr.execute("UPDATE webhook_delivery SET state = 'failed' WHERE id IN %s",
                            (tuple(r.id for r in rows[:4]),))
        again = self.replay()
        again.action_replay()
        self.assertEqual(self.Replay._cron_replay(batch_size=2), 4)
        self.assertEqual((again.state, again.count), ('done', 4))

    def test_the_cron_stops_after_its_time_and_goes_on_at_the_next_call(self):
        for minute in range(3):
            self.delivery(at(9, minute))
        replay = self.replay()
        replay.action_replay()
        self.assertEqual(self.Replay._cron_replay(max_seconds=0, batch_size=1), 1)  # one batch, then time is up
        self.assertEqual((replay.state, replay.count), ('running', 1))
        self.assertEqual(replay.progress, 'Replay: 1 of 3 deliveries queued again')
        self.assertEqual(self.Replay._cron_replay(batch_size=1), 2)
        self.assertEqual((replay.state, replay.count), ('done', 3))

    def test_rows_recorded_after_the_request_are_not_replayed(self):
        asked = self.delivery(at(9))
        replay = self.replay()
        replay.action_replay()
        later = self.delivery(at(10))  # recorded (with an older date, as a long transaction) once asked
        self.Replay._cron_replay()
        self.assertEqual(self.states(asked | later), ['pending', 'failed'])
        self.assertEqual(replay.count, 1)

    def test_the_chatter_says_what_was_asked_and_when_it_is_done(self):
        self.delivery(at(9))
        self.delivery(at(10))
        replay = self.replay()
        replay.action_replay()
        self.Replay._cron_replay()
        bodies = self.env['mail.message'].search(
            [('model', '=', 'webhook.callback'), ('res_id', '=', self.callback.id)], order='id').mapped('body')
        self.assertIn('Replay of 2 deliveries recorded between %s and %s UTC (Failed) asked.' % (at(8), at(18)),
                      bodies[-2])
        self.assertIn('Replay done: 2 deliveries queued again.', bodies[-1])

    def test_the_wizard_defaults(self):
        values = self.Replay.with_context(default_callback_id=self.callback.id).default_get(
            ['callback_id', 'date_from', 'date_to', 'replay_failed', 'replay_done'])
        self.assertEqual(values['callback_id'], self.callback.id)
        self.assertEqual((values['replay_failed'], values['replay_done']), (True, False))
        span = fields.Datetime.from_string(values['date_to']) - fields.Datetime.from_string(values['date_from'])
        self.assertEqual(span, datetime.timedelta(hours=24))
        self.assertLess(abs((fields.Datetime.from_string(values['date_to']) - datetime.datetime.utcnow())
                            .total_seconds()), 5)
        # opened from the callback by an action without a context of its own
        from_action = self.Replay.with_context(active_model='webhook.callback', active_id=self.callback.id)
        self.assertEqual(from_action.default_get(['callback_id'])['callback_id'], self.callback.id)

    def test_xmlrpc_create_then_action_replay(self):
        """What an integrator does over XML-RPC:
        ``execute_kw(db, uid, pw, 'webhook.replay', 'create', [{...}])`` then
        ``execute_kw(db, uid, pw, 'webhook.replay', 'action_replay', [[replay_id]])``: plain values,
        no context, a result that XML-RPC can marshal (no None)."""
        delivery = self.delivery(at(9))
        replay_id = self.env['webhook.replay'].sudo(self.settings_admin).create({
            'callback_id': self.callback.id, 'date_from': '2026-03-10 00:00:00', 'date_to': '2026-03-11 00:00:00',
            'replay_failed': True}).id
        result = self.env['webhook.replay'].sudo(self.settings_admin).browse([replay_id]).action_replay()
        xmlrpc.client.dumps((result,), methodresponse=True)  # raises on None
        self.assertEqual(self.Replay.browse(replay_id).read(['state', 'total'])[0],
                         {'id': replay_id, 'state': 'running', 'total': 1})
        self.Replay._cron_replay()
        self.assertEqual(self.states(delivery), ['pending'])
        # the form's button passes its context as one more argument
        self.delivery(at(9))
        self.replay().action_replay({'lang': 'en_US'})

    def test_the_count_and_the_batches_read_the_callbacks_period_of_its_index(self):
        """Neither every failed (or delivered) delivery of the outbox through a partial index of
        the state, nor every callback's deliveries of the period: this callback's range of
        webhook_delivery_callback_created_index, in its order. An outbox of 40,000 deliveries of 40
        callbacks, ANALYZEd in this transaction (rolled back with it)."""
        from ..models.webhook_replay import BATCH_QUERY, COUNT_QUERY
        cr = self.env.cr
        cr.execute("""INSERT INTO webhook_callback (name, key, action, model_id, model, url, company_id, active)
                      SELECT 'scale ' || g, substr(md5(g::text) || md5('k' || g), 1, 40), 'update', model_id,
                             'res.partner', url, company_id, true
                        FROM webhook_callback, generate_series(1, 39) g WHERE id = %s RETURNING id""",
                   (self.callback.id,))
        callback_ids = [row[0] for row in cr.fetchall()] + [self.callback.id]
        cr.execute("""INSERT INTO webhook_delivery (callback_id, event_id, res_model, res_id, operation, payload,
                                                    state, attempt_count, create_date)
                      SELECT (%s::int[])[1 + g %% 40], 'scale-' || g, 'res.partner', g, 'update', '{}',
                             CASE WHEN g %% 7 = 0 THEN 'failed' ELSE 'done' END, 1,
                             %s::timestamp + interval '2 second' * g
                        FROM generate_series(1, 40000) g""", (callback_ids, at(0)))
        cr.execute('ANALYZE webhook_delivery')
        for states in (['failed'], ['done'], ['failed', 'done']):
            params = {'callback': self.callback.id, 'start': at(8), 'end': at(18), 'max_id': 10 ** 9,
                      'states': states, 'last_date': at(9), 'last_id': 0, 'limit': 20}
            for query in (COUNT_QUERY, BATCH_QUERY):
                cr.execute('EXPLAIN ' + query, params)
                plan = '\n'.join(row[0] for row in cr.fetchall())
                # (index-only once VACUUM has marked the pages all-visible, as on a live outbox)
                self.assertIn('webhook_delivery_callback_created_index', plan)
                for other in ('Seq Scan', 'webhook_delivery_failed_index', 'webhook_delivery_done_index',
                              'webhook_delivery_created_index', 'webhook_delivery_list_index'):
                    self.assertNotIn(other, plan)
            self.assertNotIn('Sort', plan)  # the batch: in the order of the index, stopping at the limit
            self.assertTrue(plan.startswith('Limit'), plan)

    def test_only_settings_administrators_replay(self):
        from odoo.exceptions import AccessError
        self.delivery(at(9))
        with self.assertRaises(AccessError):
            self.Replay.sudo(self.accountant).create({
                'callback_id': self.callback.id, 'date_from': at(8), 'date_to': at(18)})


class TestReplayBadInput(ReplayCase):
    """Each refused with its message; nothing written (no replay, no delivery changed, no message)."""

    def setUp(self):
        super(TestReplayBadInput, self).setUp()
        self.failed = self.delivery(at(9))

    def assertRefused(self, message, **vals):
        before = self.snapshot()
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():  # as the request's rollback
            self.replay(**vals)
        self.assertEqual(caught.exception.name, message)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.states(self.failed), ['failed'])

    def test_end_before_start(self):
        self.assertRefused('Replay: the end of the period (2026-03-10 08:00:00 UTC) is before its start '
                           '(2026-03-10 18:00:00 UTC).', date_from=at(18), date_to=at(8))

    def test_no_state_chosen(self):
        self.assertRefused('Replay: choose at least one state to replay (Failed, Delivered).', replay_failed=False)

    def test_a_period_without_deliveries(self):
        self.assertRefused('No deliveries of res.partner update recorded between 2026-03-10 10:00:00 and '
                           '2026-03-10 18:00:00 UTC in the states Failed: nothing to replay.', date_from=at(10))
        self.assertRefused('No deliveries of res.partner update recorded between 2026-03-10 08:00:00 and '
                           '2026-03-10 18:00:00 UTC in the states Delivered: nothing to replay.',
                           replay_failed=False, replay_done=True)

    def test_an_archived_callback(self):
        self.callback.active = False
        self.assertRefused('Replay: the callback res.partner update is archived; its deliveries would not be '
                           'sent. Activate it first.')

    def test_a_replay_of_the_callback_already_running(self):
        running = self.replay()
        running.action_replay()
        self.assertRefused('Replay: a replay of the callback res.partner update is already in progress '
                           '(Replay: 0 of 1 deliveries queued again, asked by %s at %s UTC). Wait until it is '
                           'done.' % (self.env.user.name, running.asked_at))
        # another callback's replay is not held up
        self.delivery(at(9), callback=self.other)
        self.replay(callback_id=self.other.id).action_replay()

    def test_asked_twice_or_once_it_became_invalid(self):
        replay = self.replay()
        self.env.cr.execute("UPDATE webhook_delivery SET state = 'done' WHERE id = %s", (self.failed.id,))
        before = self.snapshot()
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            replay.action_replay()  # the failed delivery was sent meanwhile: nothing to replay now
        self.assertEqual(self.snapshot(), before)
        self.env.cr.execute("UPDATE webhook_delivery SET state = 'failed' WHERE id = %s", (self.failed.id,))
        replay.action_replay()
        before = self.snapshot()
        with self.assertRaises(UserError), self.env.cr.savepoint():
            replay.action_replay()
        self.assertEqual(self.snapshot(), before)
