# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The one place that writes a delivery's state, in SQL: leased to a sender (``lease``),
delivered or failed with its attempts (``delivered``, ``failed``), queued again by an
administrator (``requeue``: Resend, Replay), and its callback deactivated (``deactivate``).

A delivery goes ``pending`` -> ``sending`` (leased until ``lease_until``) -> ``done``, or back to
``pending`` with ``next_attempt_at`` for a retry, or ``failed``; ``requeue`` takes a ``done`` or
``failed`` one back to ``pending``. Capture writes the rows (``webhook.delivery._enqueue``); the
ORM never writes these columns (webhook.record refuses it).
"""
import logging

from .. import sender
from .state import NOW, run

_logger = logging.getLogger(__name__)

JOB_COLUMNS = ('d.id, d.callback_id, c.url, c.key, CASE WHEN c.previous_key_expires > %s THEN c.previous_key END, '
               'c.endpoint, d.event_id, d.payload, c.headers' % NOW)
_ATTEMPT_COLUMNS = ('delivery_id, callback_id, attempted_at, status_code, duration_ms, response_excerpt, error, '
                    'success, sent_by, create_date, write_date')


class Job(object):
    """A claimed delivery, with what sending it needs."""
    __slots__ = ('id', 'callback_id', 'url', 'keys', 'endpoint', 'event_id', 'body', 'headers', 'database',
                 'deadline', 'handle')

    def __init__(self, row, database=None):
        self.id, self.callback_id, self.url, key, previous_key, self.endpoint, self.event_id, payload, headers = row
        self.keys = (key, previous_key) if previous_key else (key,)  # during a key rotation's overlap: both
        self.body = payload.encode('utf-8')
        self.headers = sender.parse_headers(headers)  # the callback's own headers, parsed once per job
        self.database = database
        self.deadline = None
        self.handle = None


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
    """``(job, Result)`` pairs that reached their receiver: done, an attempt each, one statement."""
    run(cr, 'delivered', """
        WITH done AS (
            UPDATE webhook_delivery d SET state = 'done', done_at = %(now)s::timestamp,
                   attempt_count = COALESCE(attempt_count, 0) + 1, last_status_code = v.code, last_error = NULL,
                   lease_until = NULL, write_date = %(now)s::timestamp
              FROM unnest(%(ids)s::int[], %(codes)s::int[]) v(id, code) WHERE d.id = v.id RETURNING d.id)
        INSERT INTO webhook_delivery_attempt (delivery_id, callback_id, attempted_at, status_code, duration_ms,
                                              response_excerpt, success, sent_by, create_date, write_date)
        SELECT a.id, a.callback_id, %(now)s::timestamp, a.code, a.duration, a.excerpt, true, %(sent_by)s::varchar,
               %(now)s::timestamp, %(now)s::timestamp
          FROM unnest(%(ids)s::int[], %(callbacks)s::int[], %(codes)s::int[], %(durations)s::int[],
                      %(excerpts)s::text[]) a(id, callback_id, code, duration, excerpt)
          JOIN done ON done.id = a.id""", dict(
        now=now, sent_by=sent_by, ids=[job.id for job, _r in results],
        callbacks=[job.callback_id for job, _r in results], codes=[r.status_code for _j, r in results],
        durations=[r.duration_ms for _j, r in results], excerpts=[r.excerpt or None for _j, r in results]))


def attempts_so_far(cr, ids):
    """Attempt count per delivery id; deliveries deleted meanwhile are absent."""
    cr.execute('SELECT id, COALESCE(attempt_count, 0) FROM webhook_delivery WHERE id IN %s', (tuple(ids),))
    return dict(cr.fetchall())


def failed(cr, now, outcomes, sent_by):
    """``(job, Result, attempt number, state, next attempt time, error)`` of failed attempts: the
    deliveries wait for their retry or failed, an attempt each; two statements."""
    if not outcomes:
        return
    rows = ','.join(cr.mogrify('(%s, %s, %s, %s, %s::timestamp, %s)', (
        job.id, state, attempt, result.status_code or 0, next_at, error)).decode()
        for job, result, attempt, state, next_at, error in outcomes)
    cr.execute("""
        UPDATE webhook_delivery d SET state = v.state, attempt_count = v.attempt, last_status_code = v.code,
               next_attempt_at = COALESCE(v.next_at, d.next_attempt_at), last_error = v.error,
               lease_until = NULL, write_date = %%s
          FROM (VALUES %s) v(id, state, attempt, code, next_at, error) WHERE d.id = v.id""" % rows.replace('%', '%%'),
               (now,))
    attempts = ','.join(cr.mogrify('(%s, %s, %s::timestamp, %s, %s, %s, %s, %s, %s, %s::timestamp, %s::timestamp)', (
        job.id, job.callback_id, now, result.status_code or 0, result.duration_ms, result.excerpt or None,
        result.error, result.ok, sent_by, now, now)).decode() for job, result, _a, _s, _n, _e in outcomes)
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
