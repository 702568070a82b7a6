# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Housekeeping in one transaction (the test's): what is deleted and kept, batches, the time
budget, the failing-callback check and the delivery counter. Committed batches, lock timeouts
and upgrades running alongside are covered at scale in tests/test_scale.py."""
from unittest import mock

from odoo.tools import mute_logger

from .. import batches
from ..models import webhook_housekeeping
from .common import WebhookCase

CALLBACK_LOGGER = 'odoo.addons.account_webhook.runtime.outbox'


class HousekeepingCase(WebhookCase):

    @classmethod
    def setUpFixtures(cls):
        super(HousekeepingCase, cls).setUpFixtures()
        cls.callback = cls.make_callback(action='update', fields=('email',))
        cls.other = cls.make_callback(action='update', fields=('phone',))

    def add(self, state, days_ago, attempts=1, callback=None, successes=None):
        """A delivery in ``state`` whose last change (and delivery, when done) was ``days_ago`` days
        ago, with ``attempts`` attempts (the last one a success when done); returns its id."""
        callback = callback or self.callback
        self.env.cr.execute("""
            INSERT INTO webhook_delivery (callback_id, event_id, res_model, res_id, operation, payload, state,
                                          attempt_count, next_attempt_at, done_at, create_date, write_date)
            SELECT %(cb)s, md5(random()::text), 'res.partner', 1, 'update', '{}', %(state)s, %(n)s, t.at,
                   CASE WHEN %(state)s = 'done' THEN t.at END, t.at - interval '1 hour', t.at
              FROM (SELECT (now() at time zone 'UTC') - interval '1 day' * %(days)s AS at) t
            RETURNING id""", dict(cb=callback.id, state=state, n=attempts, days=days_ago))
        delivery_id = self.env.cr.fetchone()[0]
        self.env.cr.execute("""
            INSERT INTO webhook_delivery_attempt (delivery_id, callback_id, attempted_at, status_code, success)
            SELECT %(d)s, %(cb)s, (now() at time zone 'UTC') - interval '1 day' * %(days)s
                                  - interval '1 minute' * (%(n)s - n), 500, false
              FROM generate_series(1, %(n)s) n""", dict(d=delivery_id, cb=callback.id, days=days_ago, n=attempts))
        if state == 'done':
            self.env.cr.execute("""UPDATE webhook_delivery_attempt SET success = true, status_code = 200
                                    WHERE id = (SELECT max(id) FROM webhook_delivery_attempt
                                                 WHERE delivery_id = %s)""", (delivery_id,))
        return delivery_id

    def existing(self, ids):
        self.env.cr.execute('SELECT id FROM webhook_delivery WHERE id IN %s', (tuple(ids),))
        return set(row[0] for row in self.env.cr.fetchall())

    def attempts_of(self, ids):
        self.env.cr.execute('SELECT count(*) FROM webhook_delivery_attempt WHERE delivery_id IN %s', (tuple(ids),))
        return self.env.cr.fetchone()[0]


class TestCleanup(HousekeepingCase):

    def test_every_final_state_after_its_retention_with_attempts_never_what_is_still_to_send(self):
        old_done, young_done = self.add('done', 31, attempts=3), self.add('done', 29)
        old_failed, young_failed = self.add('failed', 91, attempts=8), self.add('failed', 89, attempts=8)
        still_to_send = [self.add('pending', 400, attempts=2), self.add('sending', 400, attempts=2),
                         self.add('pending', 400, attempts=0)]
        report = self.Delivery._cron_housekeeping()
        self.assertEqual(self.existing([old_done, young_done, old_failed, young_failed] + still_to_send),
                         set([young_done, young_failed] + still_to_send))
        self.assertEqual(self.attempts_of([old_done, old_failed]), 0, 'their attempts go with them')
        self.assertEqual(self.attempts_of([young_done, young_failed] + still_to_send), 1 + 8 + 2 + 2)
        self.assertEqual((report['deliveries'], report['attempts'], report['stopped']), (2, 3 + 8, 'finished'))

    def test_retention_periods_are_system_parameters(self):
        params = self.env['ir.config_parameter']
        params.set_param('account_webhook.retention_days', '10')
        params.set_param('account_webhook.failed_retention_days', '20')
        ids = [self.add('done', 11), self.add('done', 9), self.add('failed', 21), self.add('failed', 19)]
        self.Delivery._cron_housekeeping()
        self.assertEqual(self.existing(ids), {ids[1], ids[3]})

    def test_a_failed_delivery_counts_from_its_last_attempt_not_its_creation(self):
        failed = self.add('failed', 10)
        self.env.cr.execute("UPDATE webhook_delivery SET create_date = create_date - interval '200 days' "
                            "WHERE id = %s", (failed,))
        self.Delivery._cron_housekeeping()
        self.assertEqual(self.existing([failed]), {failed})

    def test_batches_are_bounded_and_oldest_go_first(self):
        ids = [self.add('done', 100 - i) for i in range(25)]
        with mock.patch.object(webhook_housekeeping, 'FIRST_BATCH', 10), \
                mock.patch.object(webhook_housekeeping, 'MAX_BATCH', 10), \
                mock.patch.object(webhook_housekeeping, 'MIN_BATCH', 10):
            report = self.Delivery._housekeeping(commit=False)
        self.assertEqual(report['deliveries'], 25)
        # the failing check, three batches of done deliveries (10, 10, 5) and one of failed ones
        self.assertEqual(report['transactions'], 1 + 3 + 1)
        self.assertFalse(self.existing(ids))

    def test_the_time_budget_stops_it_between_batches(self):
        ids = [self.add('done', 40) for _i in range(5)]
        report = self.Delivery._housekeeping(max_seconds=0, commit=False)
        self.assertEqual((report['stopped'], report['deliveries']), ('time', 0))
        self.assertEqual(self.existing(ids), set(ids), 'continued at the next call')
        self.assertEqual(self.Delivery._housekeeping(commit=False)['deliveries'], 5)

    def test_lock_and_statement_timeouts_hold_inside_steps_only(self):
        self.env.cr.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
        before = self.env.cr.fetchone()
        seen = []
        original = webhook_housekeeping.WebhookDelivery._delete_old

        def delete_old(model, *args):
            model.env.cr.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
            seen.append(model.env.cr.fetchone())
            return original(model, *args)
        with mock.patch.object(webhook_housekeeping.WebhookDelivery, '_delete_old', delete_old):
            self.Delivery._housekeeping(commit=False)
        self.assertEqual(set(seen), {(batches.LOCK_TIMEOUT, batches.STATEMENT_TIMEOUT)})
        self.env.cr.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
        self.assertEqual(self.env.cr.fetchone(), before)

    def test_the_cron_calls_it(self):
        cron = self.env.ref('account_webhook.ir_cron_webhook_housekeeping')
        self.assertEqual(cron.code.strip(), 'model._cron_housekeeping()')
        self.assertEqual((cron.interval_number, cron.interval_type), (1, 'hours'))
        old = self.add('done', 60)
        cron.method_direct_trigger()
        self.assertFalse(self.existing([old]))


class TestFailingCallbacks(HousekeepingCase):

    def attempt(self, callback, days_ago, success):
        delivery_id = self.add('pending', 0, attempts=0, callback=callback)
        self.env.cr.execute("""
            INSERT INTO webhook_delivery_attempt (delivery_id, callback_id, attempted_at, status_code, success)
            VALUES (%s, %s, (now() at time zone 'UTC') - interval '1 day' * %s, %s, %s)""",
                            (delivery_id, callback.id, days_ago, 200 if success else 500, success))

    def deactivate_failing(self):
        with mute_logger(CALLBACK_LOGGER):
            return self.Callback._deactivate_failing()

    def test_failing_since_its_last_success_for_five_days(self):
        for days_ago, success in ((30, True), (6, False), (3, False), (0.01, False)):
            self.attempt(self.callback, days_ago, success)
        for days_ago, success in ((6, False), (2, True), (1, False)):
            self.attempt(self.other, days_ago, success)
        self.assertEqual(self.deactivate_failing(), self.callback)
        self.assertFalse(self.callback.active)
        self.assertTrue(self.other.active)
        self.env.cr.execute("SELECT min(attempted_at) FROM webhook_delivery_attempt WHERE callback_id = %s "
                            "AND NOT success", (self.callback.id,))
        first_failure = self.env.cr.fetchone()[0]
        self.assertIn('since %s UTC' % first_failure, self.callback.inactive_reason)
        self.assertIn('5 days in a row', self.callback.inactive_reason)

    def test_never_succeeded(self):
        self.attempt(self.callback, 8, False)
        self.attempt(self.other, 4, False)
        self.assertEqual(self.deactivate_failing(), self.callback)

    def test_failures_younger_than_five_days_or_no_attempts_keep_it(self):
        self.attempt(self.callback, 10, True)
        self.attempt(self.callback, 4.9, False)
        self.assertFalse(self.deactivate_failing())
        self.assertTrue(self.callback.active and self.other.active)

    def test_an_inactive_callback_keeps_its_reason(self):
        self.other.write({'active': False})
        self.other.sudo().write({'inactive_reason': 'Switched off by hand'})
        self.attempt(self.other, 9, False)
        self.assertFalse(self.deactivate_failing())
        self.assertEqual(self.other.inactive_reason, 'Switched off by hand')

    def test_housekeeping_runs_it(self):
        self.attempt(self.callback, 7, False)
        with mute_logger(CALLBACK_LOGGER):
            report = self.Delivery._cron_housekeeping()
        self.assertEqual(report['deactivated'], 1)
        self.assertFalse(self.callback.active)


class TestDeliveryCount(HousekeepingCase):

    def test_counts_every_state_per_callback_as_the_list_does(self):
        for state in ('pending', 'sending', 'done', 'failed', 'done'):
            self.add(state, 1)
        self.add('done', 1, callback=self.other)
        both = self.callback | self.other
        both.invalidate_cache()
        self.assertEqual(both.mapped('delivery_count'), [5, 1])
        action = self.callback.action_view_deliveries()
        self.assertEqual(self.Delivery.search_count(action['domain']), 5)

    def test_counts_with_the_access_rules_of_a_settings_administrator(self):
        self.add('done', 1)
        self.add('failed', 1)
        self.assertEqual(self.callback.sudo(self.settings_admin).delivery_count, 2)
