# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The outbox as the dispatcher sees it, in SQL only: settings, claims, results, circuit breakers.

Every function takes a database cursor (a psycopg2 cursor of the runtime, or an Odoo cursor in
tests and actions) and neither commits nor needs a registry: the runtime runs where no Odoo
registry is loaded (the prefork master's child, the ``webhook-dispatch`` command).
"""
import datetime
import logging
import random
import time
from collections import OrderedDict

from .. import sender

_logger = logging.getLogger(__name__)

NOW = "(statement_timestamp() at time zone 'UTC')"  # not now(): a long transaction's start
DEFAULT_SCHEDULE = '5,300,1800,7200,18000,36000,36000'  # seconds after attempts 1, 2, ...
JITTER = 0.2
MAX_RETRY_AFTER = 86400
RATE_WINDOW = 60
LEASE_MARGIN = 3  # seconds a lease outlasts the longest request it covers
NUMBERS = OrderedDict([  # system parameter (account_webhook.*) -> default
    ('timeout_connect', 5.0), ('timeout_total', 15.0), ('lease_seconds', 120.0),
    ('concurrency', 64.0), ('per_endpoint', 8.0), ('breaker_threshold', 5.0), ('breaker_cooldown', 60.0),
    ('retention_days', 30.0), ('failed_retention_days', 90.0),
])
_reported = set()


def _report_once(message, *args):
    if (message, args) not in _reported:
        _reported.add((message, args))
        _logger.warning(message, *args)


class Settings(object):
    """The ``account_webhook.*`` system parameters, parsed; malformed values are reported once."""

    def __init__(self, params):
        self.raw = params
        for key, default in NUMBERS.items():
            value = params.get(key) or ''
            try:
                number = float(value) if value else default
            except ValueError:
                number = 0
            if number <= 0:
                _report_once('account_webhook.%s %r is not a positive number; using %s', key, value, default)
                number = default
            setattr(self, key, number)
        for key in ('concurrency', 'per_endpoint', 'breaker_threshold'):
            setattr(self, key, int(getattr(self, key)))
        raw = params.get('retry_schedule') or DEFAULT_SCHEDULE
        try:
            self.retry_schedule = [float(item) for item in raw.split(',') if item.strip()]
        except ValueError:
            _report_once('account_webhook.retry_schedule %r is not a list of seconds; using the default', raw)
            self.retry_schedule = [float(item) for item in DEFAULT_SCHEDULE.split(',')]
        self.allowed_targets = params.get('allowed_targets') or ''
        self.timeouts = (self.timeout_connect, self.timeout_total)
        # a claimed delivery is sent again only when its sender died: the lease outlasts the request
        self.lease = max(self.lease_seconds, self.timeout_connect + self.timeout_total + LEASE_MARGIN)


def read_settings(cr):
    cr.execute("SELECT key, value FROM ir_config_parameter WHERE key LIKE 'account\\_webhook.%%'")
    return Settings({key[len('account_webhook.'):]: value for key, value in cr.fetchall()})


class Job(object):
    """A claimed delivery, with what sending it needs."""
    __slots__ = ('id', 'callback_id', 'url', 'key', 'endpoint', 'event_id', 'body', 'database',
                 'deadline', 'handle')

    def __init__(self, row, database=None):
        self.id, self.callback_id, self.url, self.key, self.endpoint, self.event_id, payload = row
        self.body = payload.encode('utf-8')
        self.database = database
        self.deadline = None
        self.handle = None


JOB_COLUMNS = 'd.id, d.callback_id, c.url, c.key, c.endpoint, d.event_id, d.payload'
# for one record and callback URL, a delivery waits while an earlier one is pending or sending
_IN_ORDER = """NOT EXISTS (
    SELECT 1 FROM webhook_delivery e JOIN webhook_callback ec ON ec.id = e.callback_id
     WHERE e.res_model = d.res_model AND e.res_id = d.res_id AND e.id < d.id
       AND e.state IN ('pending', 'sending') AND ec.url = v.url)"""
_CANDIDATES = """
    SELECT v.cb, x.id FROM (VALUES %%s) v(cb, lim, url) CROSS JOIN LATERAL (
        SELECT d.id FROM webhook_delivery d
         WHERE d.callback_id = v.cb AND %%s AND %s
         ORDER BY %%s LIMIT v.lim FOR UPDATE OF d SKIP LOCKED) x""" % _IN_ORDER
FIRST_ATTEMPTS = ("d.state = 'pending' AND d.attempt_count = 0 AND d.next_attempt_at <= %s" % NOW, 'd.id')
RETRIES = ("((d.state = 'pending' AND d.attempt_count > 0 AND d.next_attempt_at <= %s) "
           "OR (d.state = 'sending' AND d.lease_until < %s))" % (NOW, NOW), 'd.next_attempt_at, d.id')


def claim(cr, settings, capacity, in_flight=()):
    """Lease up to ``capacity`` due deliveries to the caller, fairly across endpoints; returns Jobs.

    ``in_flight``: the caller's Jobs still being sent (they count against the per-endpoint and
    per-callback limits). First attempts go before retries; an endpoint whose circuit breaker is
    open is skipped, and after its cool-down one delivery probes it. Rows another dispatcher
    holds are skipped (SKIP LOCKED); the claim is committed by the caller.
    """
    if capacity <= 0:
        return []
    busy_endpoints, busy_callbacks = {}, {}
    for job in in_flight:
        busy_endpoints[job.endpoint] = busy_endpoints.get(job.endpoint, 0) + 1
        busy_callbacks[job.callback_id] = busy_callbacks.get(job.callback_id, 0) + 1
    cr.execute("SELECT name, paused_until > %s FROM webhook_endpoint WHERE paused_until IS NOT NULL" % NOW)
    paused = dict(cr.fetchall())  # endpoint -> still cooling down (else: ready for one probe)
    cr.execute("SELECT id, url, endpoint, rate_limit, max_in_flight FROM webhook_callback WHERE active ORDER BY id")
    callbacks = cr.fetchall()
    allowance = _rate_allowance(cr, [row[0] for row in callbacks if row[3] > 0])
    limits, urls, endpoint_of = {}, {}, {}
    for callback_id, url, endpoint, _rate, max_in_flight in callbacks:
        if paused.get(endpoint):
            continue
        per_endpoint = 1 if endpoint in paused else settings.per_endpoint
        limit = min(capacity, per_endpoint - busy_endpoints.get(endpoint, 0),
                    allowance.get(callback_id, capacity))
        if max_in_flight:
            limit = min(limit, max_in_flight - busy_callbacks.get(callback_id, 0))
        if limit > 0:
            limits[callback_id], urls[callback_id], endpoint_of[callback_id] = limit, url, endpoint
    candidates = OrderedDict()  # endpoint -> [delivery id, ...], first attempts first
    for where, order in (FIRST_ATTEMPTS, RETRIES):
        if not limits:
            break
        values = ','.join(cr.mogrify('(%s::int, %s::int, %s::varchar)', (cb, limit, urls[cb])).decode()
                          for cb, limit in limits.items())
        cr.execute(_CANDIDATES % (values, where, order))
        for callback_id, delivery_id in cr.fetchall():
            candidates.setdefault(endpoint_of[callback_id], []).append(delivery_id)
            limits[callback_id] -= 1
        limits = {cb: limit for cb, limit in limits.items() if limit > 0}
    chosen = _fair_share(candidates, capacity, settings.per_endpoint, busy_endpoints)
    for endpoint in [e for e in chosen if e in paused]:  # half-open: one probe, among all dispatchers
        cr.execute("UPDATE webhook_endpoint SET paused_until = %s + interval '1 second' * %%s "
                   "WHERE name = %%s AND paused_until <= %s RETURNING id" % (NOW, NOW), (settings.lease, endpoint))
        if cr.fetchone():
            chosen[endpoint] = chosen[endpoint][:1]
            _logger.info('Endpoint %s: cool-down over, probing it with one delivery', endpoint)
        else:
            del chosen[endpoint]
    ids = [delivery_id for ids in chosen.values() for delivery_id in ids]
    if not ids:
        return []
    cr.execute("""
        UPDATE webhook_delivery d SET state = 'sending', lease_until = %s + interval '1 second' * %%s
          FROM webhook_callback c WHERE c.id = d.callback_id AND d.id IN %%s
        RETURNING %s""" % (NOW, JOB_COLUMNS), (settings.lease, tuple(ids)))
    return sorted((Job(row) for row in cr.fetchall()), key=lambda job: job.id)


def _fair_share(candidates, capacity, per_endpoint, busy):
    """Round-robin over endpoints until ``capacity`` is used: no endpoint crowds out another."""
    chosen = OrderedDict()
    queues = [(endpoint, list(ids)) for endpoint, ids in candidates.items()]
    while capacity > 0 and queues:
        for endpoint, ids in list(queues):
            if capacity <= 0:
                break
            taken = chosen.setdefault(endpoint, [])
            if not ids or len(taken) + busy.get(endpoint, 0) >= per_endpoint:
                queues.remove((endpoint, ids))
                continue
            taken.append(ids.pop(0))
            capacity -= 1
    return OrderedDict((endpoint, ids) for endpoint, ids in chosen.items() if ids)


def _rate_allowance(cr, callback_ids):
    """How many more requests each rate-limited callback may start now (all dispatchers together)."""
    if not callback_ids:
        return {}
    for callback_id in callback_ids:  # two dispatchers must not both spend the same allowance
        cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (0x7765626b, callback_id))
    cr.execute("""
        SELECT c.id, c.rate_limit
               - (SELECT count(*) FROM webhook_delivery_attempt a
                   WHERE a.callback_id = c.id AND a.attempted_at > %s - interval '1 second' * %%s)
               - (SELECT count(*) FROM webhook_delivery d
                   WHERE d.callback_id = c.id AND d.state = 'sending' AND d.lease_until >= %s)
          FROM webhook_callback c WHERE c.id IN %%s""" % (NOW, NOW), (RATE_WINDOW, tuple(callback_ids)))
    return dict(cr.fetchall())


def post(job, connections, settings, handle=None):
    """Sign and POST one job (no transaction is needed, none should be open)."""
    from .. import signing
    headers = signing.headers(job.key, job.event_id, int(time.time()), job.body)
    return sender.post(connections, job.url, job.body, headers, settings.timeout_connect,
                       settings.timeout_total, handle=handle)


def record(cr, settings, results, sent_by=None):
    """Store each ``(job, Result)``: an attempt row each; the delivery done, retried later or
    failed; the endpoints' circuit breakers. Deliveries deleted meanwhile are skipped."""
    if not results:
        return
    now = datetime.datetime.utcnow().replace(microsecond=0)
    cr.execute('SELECT id, COALESCE(attempt_count, 0) FROM webhook_delivery WHERE id IN %s',
               (tuple(job.id for job, _result in results),))
    attempts_so_far = dict(cr.fetchall())
    attempt_rows, done, failed_rows, gone = [], {}, [], []
    for job, result in results:
        if job.id not in attempts_so_far:
            continue
        attempt = attempts_so_far[job.id] + 1
        attempt_rows.append(cr.mogrify('(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)', (
            job.id, job.callback_id, now, result.status_code or 0, result.duration_ms,
            result.excerpt or None, result.error, result.ok, sent_by, now, now)).decode())
        if result.ok:
            done.setdefault(result.status_code, []).append(job.id)
            continue
        state, next_at, error = _after_failure(job, attempt, result, now, settings.retry_schedule)
        if result.status_code == 410:
            gone.append(job.callback_id)
        failed_rows.append(cr.mogrify('(%s, %s, %s, %s, %s::timestamp, %s)', (
            job.id, state, attempt, result.status_code or 0, next_at, error)).decode())
    for status_code, ids in done.items():
        cr.execute("""
            UPDATE webhook_delivery SET state = 'done', done_at = %s, attempt_count = COALESCE(attempt_count, 0) + 1,
                   last_status_code = %s, last_error = NULL, lease_until = NULL, write_date = %s
             WHERE id IN %s""", (now, status_code, now, tuple(ids)))
    if failed_rows:
        cr.execute("""
            UPDATE webhook_delivery d SET state = v.state, attempt_count = v.attempt, last_status_code = v.code,
                   next_attempt_at = COALESCE(v.next_at, d.next_attempt_at), last_error = v.error,
                   lease_until = NULL, write_date = %%s
              FROM (VALUES %s) v(id, state, attempt, code, next_at, error) WHERE d.id = v.id""" % ','.join(
                failed_rows).replace('%', '%%'),
                   (now,))
    if attempt_rows:
        cr.execute("""
            INSERT INTO webhook_delivery_attempt (delivery_id, callback_id, attempted_at, status_code, duration_ms,
                   response_excerpt, error, success, sent_by, create_date, write_date) VALUES %s""" % ','.join(
            attempt_rows))
    if gone:
        deactivate(cr, gone, 'The receiver answered 410 Gone on %s UTC.' % now)
    _update_breakers(cr, settings, results)


def _after_failure(job, attempt, result, now, schedule):
    """``(state, next attempt time or None, error text)`` after failed attempt number ``attempt``."""
    error = result.error or 'HTTP %s: %s' % (result.status_code, result.excerpt[:500])
    if result.status_code == 410:
        return 'failed', None, 'HTTP 410 Gone: the receiver asked to stop; the callback was deactivated.'
    if result.blocked:
        _logger.warning('Callback %s: delivery %s refused: %s', job.callback_id, job.id, result.error)
        return 'failed', None, error
    delay = retry_delay(attempt, result, schedule)
    state = 'failed' if delay is None else 'pending'
    _logger.info('Callback %s: delivery %s attempt %s failed (%s); now %s', job.callback_id, job.id, attempt,
                 error, state)
    return state, delay is not None and now + datetime.timedelta(seconds=delay) or None, error


def retry_delay(attempt, result, schedule):
    """Seconds before the next attempt after failed attempt number ``attempt``; None: give up."""
    if attempt > len(schedule):
        return None
    if result.status_code in (429, 503):
        asked = sender.retry_after_seconds(result.retry_after)
        if asked is not None:
            return min(asked, MAX_RETRY_AFTER)
    return schedule[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)


def deactivate(cr, callback_ids, reason):
    """Deactivate callbacks (SQL: no registry here) and tell every Odoo process to drop its caches."""
    cr.execute("""UPDATE webhook_callback SET active = false, inactive_reason = %s,
                         write_date = (now() at time zone 'UTC')
                   WHERE id IN %s AND active RETURNING id, name""", (reason, tuple(set(callback_ids))))
    for callback_id, name in cr.fetchall():
        _logger.warning('Callback %s (%s) deactivated: %s', callback_id, name, reason)
    cr.execute("SELECT nextval('base_cache_signaling')")  # Odoo 11's cache invalidation signal


def _update_breakers(cr, settings, results):
    """Count failures in a row per endpoint (timeouts, connection errors, 5xx); any other HTTP
    answer closes the breaker. At ``breaker_threshold`` the endpoint pauses for the cool-down."""
    outcome = OrderedDict()  # endpoint -> [answered since the batch began, failures in a row, last error]
    for job, result in results:
        state = outcome.setdefault(job.endpoint, [False, 0, None])
        if result.endpoint_down:
            state[1] += 1
            state[2] = result.error or 'HTTP %s' % result.status_code
        elif result.status_code is not None:
            state[:] = [True, 0, None]
    for endpoint, (answered, failures, error) in outcome.items():
        if not failures:
            cr.execute("""UPDATE webhook_endpoint SET consecutive_failures = 0, failing_since = NULL,
                                 paused_until = NULL, last_error = NULL
                           WHERE name = %s AND consecutive_failures > 0""", (endpoint,))
            if cr.rowcount:
                _logger.info('Endpoint %s answers again: circuit closed', endpoint)
            continue
        cr.execute(("""
            INSERT INTO webhook_endpoint (name, consecutive_failures, failing_since, last_error,
                                          create_date, write_date)
            VALUES (%(name)s, %(failures)s, {now}, %(error)s, {now}, {now})
            ON CONFLICT (name) DO UPDATE SET
                consecutive_failures = CASE WHEN %(answered)s THEN 0 ELSE webhook_endpoint.consecutive_failures END
                                       + EXCLUDED.consecutive_failures,
                failing_since = CASE WHEN %(answered)s THEN EXCLUDED.failing_since
                                     ELSE COALESCE(webhook_endpoint.failing_since, EXCLUDED.failing_since) END,
                last_error = EXCLUDED.last_error, write_date = EXCLUDED.write_date
            RETURNING consecutive_failures""").format(now=NOW),
            dict(name=endpoint, failures=failures, error=error, answered=answered))
        in_a_row = cr.fetchone()[0]
        if in_a_row >= settings.breaker_threshold:
            cr.execute("UPDATE webhook_endpoint SET paused_until = %s + interval '1 second' * %%s WHERE name = %%s"
                       % NOW, (settings.breaker_cooldown, endpoint))
            _logger.warning('Endpoint %s: %s failures in a row (%s); circuit open, its deliveries wait %ss',
                            endpoint, in_a_row, error, int(settings.breaker_cooldown))
