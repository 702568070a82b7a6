# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The one place that writes a delivery's state, in SQL: leased to a sender (``lease``),
delivered or failed with its attempts (``delivered``, ``failed``), queued again by an
administrator (``requeue``: Resend, Replay), and its callback deactivated (``deactivate``).

A delivery goes ``pending`` -> ``sending`` (leased until ``lease_until``) -> ``done``, or back to
``pending`` with ``next_attempt_at`` for a retry, or ``failed``; ``requeue`` takes a ``done`` or
``failed`` one back to ``pending``. New rows come from ``insert`` (the fan-out of the captured events,
``events.expand``; ``webhook.delivery._enqueue``), and ``withdraw`` drops pending ones a
transaction took back; the ORM never writes these columns (webhook.record refuses it).
"""
import hashlib
import json
import logging
from collections import namedtuple

from .. import sender, shaping
from .state import NOW, run

_logger = logging.getLogger(__name__)

# the receiver's id of a delivery's record: the latest one a callback posting to the same URL was
# given (only looked for when the callback has templates that could use it)
_RECEIVER_ID = """CASE WHEN c.path_template IS NOT NULL OR c.body_template IS NOT NULL THEN (
    SELECT r.receiver_id FROM webhook_receiver_ref r JOIN webhook_callback rc ON rc.id = r.callback_id
     WHERE r.res_model = d.res_model AND r.res_id = d.res_id AND rc.url = c.url
     ORDER BY r.write_date DESC, r.id DESC LIMIT 1) END"""
JOB_COLUMNS = ('d.id, d.callback_id, c.url, c.key, CASE WHEN c.previous_key_expires > %s THEN c.previous_key END, '
               'c.endpoint, d.event_id, d.payload, c.headers, d.res_model, d.res_id, %s, c.method, c.path_template, '
               'c.body_template, c.answer_rule, c.answer_message_path, c.receiver_id_path, c.batch_size'
               % (NOW, _RECEIVER_ID))
_ATTEMPT_COLUMNS = ('delivery_id, callback_id, attempted_at, status_code, duration_ms, response_excerpt, error, '
                    'success, sent_by, request_size, create_date, write_date')

# one delivery of a job
Event = namedtuple('Event', 'id event_id payload res_model res_id receiver_id')
# how the callback shapes its requests and reads the answers (models/webhook_callback_request.py)
Shape = namedtuple('Shape', 'method path_template body_template answer_rule answer_message_path receiver_id_path '
                            'batch_size')


class Job(object):
    """One request: a claimed delivery, or several of one callback (a batch), with what sending
    it needs. ``id``: its first delivery's."""
    __slots__ = ('events', 'callback_id', 'url', 'keys', 'endpoint', 'headers', 'shape', 'database', 'deadline',
                 'handle')

    def __init__(self, row, database=None):
        (delivery_id, self.callback_id, self.url, key, previous_key, self.endpoint, event_id, payload, headers,
         res_model, res_id, receiver_id) = row[:12]
        self.events = [Event(delivery_id, event_id, payload, res_model, res_id, receiver_id)]
        self.shape = Shape(*row[12:19]) if len(row) > 12 else Shape('POST', None, None, None, None, None, 1)
        self.keys = (key, previous_key) if previous_key else (key,)  # during a key rotation's overlap: both
        self.headers = sender.parse_headers(headers)  # the callback's own headers, parsed once per job
        self.database = database
        self.deadline = None
        self.handle = None

    @property
    def id(self):
        return self.events[0].id

    @property
    def batch(self):
        return (self.shape.batch_size or 1) > 1

    @property
    def message_id(self):
        """The webhook-id: the event's, or for a batch one derived from its events' ids."""
        if not self.batch:
            return self.events[0].event_id
        return 'batch_' + hashlib.sha256(' '.join(e.event_id for e in self.events).encode()).hexdigest()[:32]

    def request(self):
        """``(method, url, body bytes)``; raises shaping.ShapeError when a template cannot do it."""
        shape = self.shape
        url = self.url
        if shape.path_template:  # a batch has one URL: its first event's
            url += shaping.render_path(shape.path_template, json.loads(self.events[0].payload),
                                       self.events[0].receiver_id)
        body = shaping.render_body(shape.body_template, [e.payload for e in self.events],
                                   [e.receiver_id for e in self.events], batch=self.batch)
        return shape.method or 'POST', url, body

    @property
    def judges(self):
        """Whether the answer's body is read to judge it or to find the receiver's id."""
        return bool(self.shape.answer_rule or self.shape.receiver_id_path)

    def judge(self, status_code, answer):
        """``(accepted, message, receiver id)`` (shaping.judge); the receiver's id of single events only."""
        shape = self.shape
        return shaping.judge(shape.answer_rule, shape.answer_message_path,
                             None if self.batch else shape.receiver_id_path, status_code, answer)


def merge(jobs, chunks):
    """Jobs of single deliveries grouped as ``chunks`` says (lists of delivery ids, in order)."""
    by_id = {job.id: job for job in jobs}
    merged = []
    for chunk in chunks:
        parts = [by_id[delivery_id] for delivery_id in chunk if delivery_id in by_id]
        if not parts:
            continue
        for other in parts[1:]:
            parts[0].events.extend(other.events)
        merged.append(parts[0])
    return sorted(merged, key=lambda job: job.id)


def insert(cr, rows):
    """Queue deliveries ``(callback id, event id, model, record id, operation, payload, uid, time)``,
    pending and due from ``time`` (their event's), in one set-based statement: the rows travel as one
    array per column and are inserted in their order (ids follow it). A row whose event id exists
    already (the same event written again in its transaction) gets the new payload."""
    if not rows:
        return
    columns = [list(column) for column in zip(*rows)]
    cr.execute("""
        INSERT INTO webhook_delivery (callback_id, event_id, res_model, res_id, operation, payload, state,
                                      attempt_count, next_attempt_at, create_uid, create_date, write_uid, write_date)
        SELECT t.callback_id, t.event_id, t.res_model, t.res_id, t.operation, t.payload, 'pending',
               0, t.at, t.uid, t.at, t.uid, t.at
          FROM unnest(%s::int4[], %s::varchar[], %s::varchar[], %s::int4[], %s::varchar[], %s::text[], %s::int4[],
                      %s::timestamp[]) WITH ORDINALITY AS t(callback_id, event_id, res_model, res_id, operation,
                                                              payload, uid, at, n)
         ORDER BY t.n
            ON CONFLICT (event_id) DO UPDATE SET payload = EXCLUDED.payload, write_date = EXCLUDED.write_date
    """, columns)


def withdraw(cr, event_ids):
    """Delete the deliveries of these events that are still pending (their transaction took the
    change back)."""
    if event_ids:
        cr.execute("DELETE FROM webhook_delivery WHERE event_id = ANY(%s) AND state = 'pending'", (list(event_ids),))


def jobs(cr, ids):
    """The Jobs of these deliveries, whatever their state (the test event, actions that send at once)."""
    # pylint: disable-next=sql-injection  # JOB_COLUMNS: a constant; the ids go as a parameter
    cr.execute('SELECT %s FROM webhook_delivery d JOIN webhook_callback c ON c.id = d.callback_id '
               'WHERE d.id IN %%s ORDER BY d.id' % JOB_COLUMNS, (tuple(ids),))
    return [Job(row) for row in cr.fetchall()]


def lease(cr, ids, seconds):
    """Lease these deliveries (``sending`` for ``seconds``) to the caller; returns their Jobs."""
    run(cr, 'lease', """
        UPDATE webhook_delivery d SET state = 'sending', lease_until = %s + interval '1 second' * %%(lease)s::float8
          FROM webhook_callback c WHERE c.id = d.callback_id AND d.id = ANY(%%(ids)s::int[])
        RETURNING %s""" % (NOW, JOB_COLUMNS), dict(lease=seconds, ids=ids))
    return sorted((Job(row) for row in cr.fetchall()), key=lambda job: job.id)


def delivered(cr, now, results, sent_by):
    """``(job, Result)`` pairs that reached their receiver: each event done with an attempt, the
    receiver's id kept (on the delivery, and per record and callback for templates), one statement."""
    events = [(job, result, event) for job, result in results for event in job.events]
    run(cr, 'delivered', """
        WITH done AS (
            UPDATE webhook_delivery d SET state = 'done', done_at = %(now)s::timestamp,
                   attempt_count = COALESCE(attempt_count, 0) + 1, last_status_code = v.code, last_error = NULL,
                   lease_until = NULL, write_date = %(now)s::timestamp,
                   receiver_id = COALESCE(v.receiver_id, d.receiver_id)
              FROM unnest(%(ids)s::int[], %(codes)s::int[], %(receiver_ids)s::varchar[]) v(id, code, receiver_id)
             WHERE d.id = v.id RETURNING d.id, d.callback_id, d.res_model, d.res_id, d.receiver_id),
        refs AS (
            INSERT INTO webhook_receiver_ref (callback_id, res_model, res_id, receiver_id, create_date, write_date)
            SELECT callback_id, res_model, res_id, receiver_id, %(now)s::timestamp, %(now)s::timestamp
              FROM done WHERE receiver_id IS NOT NULL AND res_id > 0 AND done.id = ANY(%(with_id)s::int[])
            ON CONFLICT (callback_id, res_model, res_id) DO UPDATE
               SET receiver_id = EXCLUDED.receiver_id, write_date = EXCLUDED.write_date)
        INSERT INTO webhook_delivery_attempt (delivery_id, callback_id, attempted_at, status_code, duration_ms,
                                              response_excerpt, success, sent_by, request_size, create_date,
                                              write_date)
        SELECT a.id, a.callback_id, %(now)s::timestamp, a.code, a.duration, a.excerpt, true, %(sent_by)s::varchar,
               a.size, %(now)s::timestamp, %(now)s::timestamp
          FROM unnest(%(ids)s::int[], %(callbacks)s::int[], %(codes)s::int[], %(durations)s::int[],
                      %(excerpts)s::text[], %(sizes)s::int[]) a(id, callback_id, code, duration, excerpt, size)
          JOIN done ON done.id = a.id""", dict(
        now=now, sent_by=sent_by, ids=[event.id for _j, _r, event in events],
        callbacks=[job.callback_id for job, _r, _e in events], codes=[r.status_code for _j, r, _e in events],
        durations=[r.duration_ms for _j, r, _e in events], excerpts=[r.excerpt or None for _j, r, _e in events],
        sizes=[len(job.events) for job, _r, _e in events],
        # the id the answer gave, else the one the request used ({receiver_id}): each delivery shows it
        receiver_ids=[result.receiver_id or event.receiver_id for _j, result, event in events],
        with_id=[event.id for _j, result, event in events if result.receiver_id]))


def attempts_so_far(cr, ids):
    """Attempt count per delivery id; deliveries deleted meanwhile are absent."""
    cr.execute('SELECT id, COALESCE(attempt_count, 0) FROM webhook_delivery WHERE id IN %s', (tuple(ids),))
    return dict(cr.fetchall())


def failed(cr, now, outcomes, sent_by):
    """``(job, event, Result, attempt number, state, next attempt time, error)`` of failed attempts:
    the deliveries wait for their retry or failed, an attempt each; two statements."""
    if not outcomes:
        return
    rows = ','.join(cr.mogrify('(%s, %s, %s, %s, %s::timestamp, %s)', (
        event.id, state, attempt, result.status_code or 0, next_at, error)).decode()
        for _job, event, result, attempt, state, next_at, error in outcomes)
    cr.execute("""
        UPDATE webhook_delivery d SET state = v.state, attempt_count = v.attempt, last_status_code = v.code,
               next_attempt_at = COALESCE(v.next_at, d.next_attempt_at), last_error = v.error,
               lease_until = NULL, write_date = %%s
          FROM (VALUES %s) v(id, state, attempt, code, next_at, error) WHERE d.id = v.id""" % rows.replace('%', '%%'),
               (now,))
    attempts = ','.join(cr.mogrify(
        '(%s, %s, %s::timestamp, %s, %s, %s, %s, %s, %s, %s, %s::timestamp, %s::timestamp)', (
            event.id, job.callback_id, now, result.status_code or 0, result.duration_ms, result.excerpt or None,
            result.error, False, sent_by, len(job.events), now, now)).decode()
        for job, event, result, _a, _s, _n, _e in outcomes)
    # pylint: disable-next=sql-injection  # columns: a constant; rows built by cr.mogrify (values escaped)
    cr.execute('INSERT INTO webhook_delivery_attempt (%s) VALUES %s' % (_ATTEMPT_COLUMNS, attempts))


def requeue(cr, ids, uid, states=('done', 'failed')):
    """Queue these deliveries again, due now, without a lease (Resend, Replay): the event id and the
    payload are kept, receivers deduplicate on them. Only those still in one of ``states`` (one
    sent or resent meanwhile is left as it is). Returns how many."""
    cr.execute("""UPDATE webhook_delivery
                     SET state = 'pending', next_attempt_at = now() at time zone 'UTC',
                         lease_until = NULL, write_uid = %s, write_date = now() at time zone 'UTC'
                   WHERE id = ANY(%s) AND state = ANY(%s)""", (uid, list(ids), list(states)), log_exceptions=False)
    return cr.rowcount


def deactivate(cr, callback_ids, reason):
    """Deactivate callbacks (their deliveries are no longer claimed) and tell every Odoo process to
    drop its caches (the capture's lookup). Returns the ids deactivated now."""
    cr.execute("""UPDATE webhook_callback SET active = false, inactive_reason = %s,
                         write_date = (now() at time zone 'UTC')
                   WHERE id IN %s AND active RETURNING id, name""", (reason, tuple(set(callback_ids))))
    done = []
    for callback_id, name in cr.fetchall():
        _logger.warning('Callback %s (%s) deactivated: %s', callback_id, name, reason)
        done.append(callback_id)
    cr.execute("SELECT nextval('base_cache_signaling')")  # Odoo 11's cache invalidation signal
    return done
