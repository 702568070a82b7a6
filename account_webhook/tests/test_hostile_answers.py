# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Whatever a receiver answers is a recorded attempt, never an exception: property-based tests of the
answer's parsing (``sender``) and of recording it (``runtime.recording.record``)."""
import datetime
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .. import sender
from ..runtime import claiming, outbox, recording
from ..runtime.state import read_state
from .common import WebhookCase
from .receiver import RawReceiver

FEW = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


class TestRetryAfter(WebhookCase):

    def test_only_what_rfc_9110_allows(self):
        now = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc)
        cases = {'120': 120, ' 7 ': 7, '²': None, '١٢': None, '-5': None, '1.5': None, '': None, None: None,
                 '99999999999999999999': None, '999999': sender.MAX_RETRY_AFTER,
                 'Fri, 04 Dec 2026 00:01:00 GMT': 60, 'Fri, 31 Dec 9999 23:59:59 GMT': sender.MAX_RETRY_AFTER,
                 'Thu, 01 Jan 1970 00:00:00 GMT': 0, 'Sun, 99 Foo 2026 99:99:99 GMT': None, 'soon': None}
        for value, seconds in cases.items():
            self.assertEqual(sender.retry_after_seconds(value, now), seconds, value)

    @FEW
    @given(st.one_of(st.text(), st.binary().map(lambda raw: raw.decode('latin-1'))))
    def test_any_header_value_gives_seconds_or_none(self, value):
        seconds = sender.retry_after_seconds(value)
        self.assertTrue(seconds is None or 0 <= seconds <= sender.MAX_RETRY_AFTER)


class TestResults(WebhookCase):

    @FEW
    @given(st.one_of(st.none(), st.integers()), st.one_of(st.binary(max_size=6000), st.text(max_size=6000)),
           st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()), st.integers())
    def test_what_a_result_keeps_fits_the_attempt(self, status, excerpt, error, retry_after, duration):
        result = sender.Result(status, excerpt, error=error, retry_after=retry_after, duration_ms=duration)
        for text in (result.excerpt, result.error or '', result.retry_after or ''):
            self.assertNotIn('\x00', text)
        self.assertLessEqual(len(result.excerpt), sender.EXCERPT_BYTES)
        self.assertTrue(result.status_code is None or 0 <= result.status_code <= 999)
        self.assertTrue(0 <= result.duration_ms < 2 ** 31)
        self.assertFalse(result.status_code == 0 and not result.error, 'an invalid status explains itself')


class TestRecording(WebhookCase):
    """recording.record on the test's cursor: each example one more attempt of the same delivery."""

    @classmethod
    def setUpClass(cls):
        super(TestRecording, cls).setUpClass()
        cls.callback = cls.make_callback(action='create', fields=('name',))
        cls.env['res.partner'].create({'name': 'Hostile answers'})
        cls.delivery = cls.deliveries(cls, cls.callback)

    def job(self):
        self.env.cr.execute('SELECT %s FROM webhook_delivery d JOIN webhook_callback c ON c.id = d.callback_id '
                            'WHERE d.id = %%s' % outbox.JOB_COLUMNS, (self.delivery.id,))
        return outbox.Job(self.env.cr.fetchone())

    def attempts(self):
        self.env.cr.execute('SELECT count(*) FROM webhook_delivery_attempt WHERE delivery_id = %s',
                            (self.delivery.id,))
        return self.env.cr.fetchone()[0]

    @FEW
    @given(st.integers(min_value=100, max_value=999), st.binary(max_size=5000),
           st.one_of(st.none(), st.text(max_size=50)))
    def test_any_answer_is_recorded(self, status, body, retry_after):
        before = self.attempts()
        state = read_state(self.env.cr)
        recording.record(self.env.cr, state, [(self.job(), sender.Result(status, body, retry_after=retry_after))])
        self.assertEqual(self.attempts(), before + 1)

    def test_a_result_that_cannot_be_stored_is_a_failed_attempt_and_the_others_are_kept(self):
        other_partner = self.env['res.partner'].create({'name': 'Other answer'})
        other = self.Delivery.search([('callback_id', '=', self.callback.id), ('res_id', '=', other_partner.id)])
        state = read_state(self.env.cr)
        jobs = claiming.claim(self.env.cr, state, 10)
        self.assertEqual(sorted(job.id for job in jobs), sorted((self.delivery | other).ids))
        poisoned = sender.Result(200, 'fine')
        poisoned.excerpt = 'past the cleaning\x00'  # what PostgreSQL refuses (a ValueError in psycopg2)
        results = [(job, poisoned if job.id == self.delivery.id else sender.Result(200, 'ok')) for job in jobs]
        with self.assertLogs('odoo.addons.account_webhook.runtime.recording', 'ERROR') as logs:
            recording.record(self.env.cr, state, results, 'test')
        self.assertIn('delivery %s: its result could not be recorded' % self.delivery.id, logs.output[-1])
        self.Delivery.invalidate_cache()
        self.assertEqual((other.state, other.attempt_ids.success), ('done', True))
        self.assertEqual(self.delivery.state, 'pending', 'retried by its schedule')
        self.assertIn('internal error: the answer could not be recorded (ValueError', self.delivery.last_error)
        self.assertEqual(len(self.delivery.attempt_ids), 1)
        with self.assertLogs('odoo.addons.account_webhook.runtime.recording', 'ERROR'):
            recording.record(self.env.cr, state, [(self.job(), None)])  # not even a Result
        self.delivery.invalidate_cache()
        self.assertEqual(len(self.delivery.attempt_ids), 2)


class _Scripted(RawReceiver):
    """Answers every request with ``self.answer`` (bytes)."""
    answer = b''

    def respond(self, connection, path):
        connection.sendall(self.answer)


class TestAnswers(WebhookCase):

    @classmethod
    def setUpClass(cls):
        super(TestAnswers, cls).setUpClass()
        cls.server = _Scripted()
        cls.connections = sender.Connections('127.0.0.1')

    @classmethod
    def tearDownClass(cls):
        cls.connections.close()
        cls.server.close()
        super(TestAnswers, cls).tearDownClass()

    @FEW
    @given(st.one_of(
        st.binary(max_size=3000),
        st.builds(lambda status, headers, body: b'HTTP/1.1 ' + status + b'\r\n' + headers + b'\r\n' + body,
                  st.binary(max_size=40), st.binary(max_size=400), st.binary(max_size=3000)),
        st.builds(lambda code, name, value, body: b'HTTP/1.1 %d X\r\n%s: %s\r\nContent-Length: %d\r\n\r\n%s' % (
            code, name, value, len(body), body), st.integers(0, 1200), st.sampled_from([b'Retry-After', b'X-A']),
            st.binary(max_size=60).filter(lambda v: b'\r' not in v and b'\n' not in v), st.binary(max_size=500))))
    def test_any_bytes_give_a_result(self, answer):
        self.server.answer = answer
        result = sender.post(self.connections, self.server.url(), b'{}', {}, 1, 2)
        self.assertIsInstance(result, sender.Result)
        self.assertTrue(result.error or result.status_code is not None)
        self.assertNotIn('\x00', result.excerpt + (result.error or ''))
        sender.retry_after_seconds(result.retry_after)


class _Dripping(RawReceiver):
    """Answers a status line, then a byte a second."""

    def respond(self, connection, path):
        connection.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n')
        for _i in range(60):
            if self.closing:
                return
            connection.sendall(b'x')
            time.sleep(1)


class TestTestEventDeadline(WebhookCase):

    def test_the_test_event_is_cut_at_the_total_timeout(self):
        dripping = _Dripping()
        try:
            Params = self.env['ir.config_parameter']
            Params.set_param('account_webhook.allowed_targets', '127.0.0.1')
            Params.set_param('account_webhook.timeout_total', '1')
            callback = self.make_callback(url=dripping.url())
            started = time.monotonic()
            action = callback.action_send_test_event()
            self.assertLess(time.monotonic() - started, 1 + sender.DEADLINE_GRACE + 1)
            delivery = self.Delivery.browse(action['res_id'])
            self.assertEqual(len(delivery.attempt_ids), 1)
            self.assertLess(delivery.attempt_ids.duration_ms, 2500)
        finally:
            dripping.close()
