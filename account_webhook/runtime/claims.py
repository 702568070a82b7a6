# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The outbox as the dispatcher sees it, in SQL only: settings, claims, results, circuit breakers.

Every function takes a database cursor (a psycopg2 cursor of the runtime, or an Odoo cursor in
tests and actions) and neither commits nor needs a registry: the runtime runs where no Odoo
registry is loaded (the prefork master's child, the ``webhook-dispatch`` command).
"""
import datetime
import itertools
import logging
import random
import re
import time
from collections import OrderedDict

import psycopg2

from .. import params as parameters
from .. import sender

_logger = logging.getLogger(__name__)

NOW = "(statement_timestamp() at time zone 'UTC')"  # not now(): a long transaction's start
JITTER = 0.2
RATE_WINDOW = 60
LEASE_MARGIN = 3  # seconds a lease outlasts the longest request it covers
_reported = set()


def _report_once(message, *args):
    if (message, args) not in _reported:
        _reported.add((message, args))
        _logger.warning(message, *args)


_PLACEHOLDER = re.compile(r'%\((\w+)\)s|%%')


def run(cr, name, sql, params=None):
    """Execute ``sql`` (``%(name)s`` placeholders). On the dispatcher's own connections (see
    ``engine.Connection``) it is PREPAREd once per connection: the hot statements of a cycle are
    then not planned again on every call. Elsewhere (Odoo cursors) it is a plain execute."""
    prepared = getattr(getattr(cr, 'connection', None), 'account_webhook_prepared', None)
    if prepared is None:
        cr.execute(sql, params or {})
        return
    if name not in prepared:
        order = []

        def placeholder(match):
            if match.group(0) == '%%':
                return '%'
            if match.group(1) not in order:
                order.append(match.group(1))
            return '$%d' % (order.index(match.group(1)) + 1)
        # pylint: disable-next=sql-injection  # name and sql are this module's constants; values go as $n
        cr.execute('PREPARE account_webhook_%s AS %s' % (name, _PLACEHOLDER.sub(placeholder, sql)))
        prepared[name] = order
    order = prepared[name]
    cr.execute('EXECUTE account_webhook_%s%s' % (name, '(%s)' % ', '.join(['%s'] * len(order)) if order else ''),
               tuple(params[key] for key in order))


class Settings(object):
    """The ``account_webhook.*`` system parameters, parsed and within their bounds (``params``); a
    bad stored value is reported once and its default used."""

    def __init__(self, params):
        for key, value in parameters.read(params, lambda message: _report_once('%s', message)).items():
            setattr(self, key, value)
        self.timeouts = (self.timeout_connect, self.timeout_total)
        # a claimed delivery is sent again only when its sender died: the lease outlasts the request
        self.lease = max(self.lease_seconds, self.timeout_connect + self.timeout_total + LEASE_MARGIN)


# the database the addon runs in, its database.uuid and its name (set at install, by the upgrade to
# 11.0.3.0.0 and when an administrator decides that a copy keeps sending)
REMEMBERED_UUID = 'account_webhook.database_uuid'
REMEMBERED_NAME = 'account_webhook.database_name'


class State(object):
    """What a cycle needs to know, read in one round trip: settings, active callbacks, breakers,
    and whether the database is held."""

    def __init__(self, params, callbacks, breakers, database_uuid=None, database=None):
        params = params or {}
        self.settings = Settings({key[len('account_webhook.'):]: value for key, value in params.items()})
        # Odoo's Duplicate and a restore as a copy give a database a new database.uuid, at the end
        # of the copy; its name differs from the start (a renamed database counts as a copy too):
        # a copy (staging, tests) sends nothing until an administrator decides (webhook.copy.decision)
        self.database, self.database_uuid = database, database_uuid
        self.remembered_uuid, self.remembered_name = params.get(REMEMBERED_UUID), params.get(REMEMBERED_NAME)
        self.held = bool(database_uuid and self.remembered_uuid and database_uuid != self.remembered_uuid) or \
            bool(database and self.remembered_name and database != self.remembered_name)
        self.callbacks = callbacks or []  # [id, url, endpoint, rate_limit, max_in_flight]
        self.failing = set()              # endpoints with failures in a row
        self.paused = {}                  # endpoint -> still cooling down (else: ready for one probe)
        for name, failures, cooling, paused in breakers or []:
            if failures:
                self.failing.add(name)
            if paused:
                self.paused[name] = cooling


def read_state(cr):
    run(cr, 'state', """
        SELECT (SELECT json_object_agg(key, value) FROM ir_config_parameter WHERE key LIKE 'account\\_webhook.%%'),
               (SELECT json_agg(json_build_array(id, url, endpoint, rate_limit, max_in_flight) ORDER BY id)
                  FROM webhook_callback WHERE active),
               (SELECT json_agg(json_build_array(name, consecutive_failures, paused_until > {now},
                                                 paused_until IS NOT NULL))
                  FROM webhook_endpoint WHERE consecutive_failures > 0 OR paused_until IS NOT NULL),
               (SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'), current_database()
    """.format(now=NOW))
    return State(*cr.fetchone())


def read_settings(cr):
    return read_state(cr).settings


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


JOB_COLUMNS = ('d.id, d.callback_id, c.url, c.key, CASE WHEN c.previous_key_expires > %s THEN c.previous_key END, '
               'c.endpoint, d.event_id, d.payload, c.headers' % NOW)
# for one record and callback URL, a delivery waits while an earlier one is pending or sending
_IN_ORDER = """NOT EXISTS (
    SELECT 1 FROM webhook_delivery e JOIN webhook_callback ec ON ec.id = e.callback_id
     WHERE e.res_model = d.res_model AND e.res_id = d.res_id AND e.id < d.id
       AND e.state IN ('pending', 'sending') AND ec.url = v.url)"""
_CANDIDATES = """
    SELECT v.cb, x.id FROM unnest(%(cbs)s::int[], %(limits)s::int[], %(urls)s::varchar[]) v(cb, lim, url)
    CROSS JOIN LATERAL (
        SELECT d.id FROM webhook_delivery d
         WHERE d.callback_id = v.cb AND d.state = 'pending' AND d.attempt_count = 0 AND d.next_attempt_at <= {now}
           AND {order}
         ORDER BY d.id LIMIT v.lim FOR UPDATE OF d SKIP LOCKED) x
    UNION ALL
    SELECT v.cb, x.id FROM unnest(%(cbs)s::int[], %(limits)s::int[], %(urls)s::varchar[]) v(cb, lim, url)
    CROSS JOIN LATERAL (
        SELECT d.id FROM webhook_delivery d
         WHERE d.callback_id = v.cb
           AND ((d.state = 'pending' AND d.attempt_count > 0 AND d.next_attempt_at <= {now})
                OR (d.state = 'sending' AND d.lease_until < {now}))
           AND {order}
         ORDER BY d.next_attempt_at, d.id LIMIT v.lim FOR UPDATE OF d SKIP LOCKED) x""".format(now=NOW, order=_IN_ORDER)


def claim(cr, state, capacity, in_flight=()):
    """Lease up to ``capacity`` due deliveries to the caller, fairly across endpoints; returns Jobs.

    ``state``: ``read_state()`` of this transaction. ``in_flight``: the caller's Jobs still being
    sent (they count against the per-endpoint and per-callback limits). First attempts go before
    retries (and expired leases); an endpoint whose circuit breaker is open is skipped, and after
    its cool-down one delivery probes it. Rows another dispatcher holds are skipped (SKIP
    LOCKED); candidates not chosen are only locked until the caller commits. A held database (a
    copy, see State) gets nothing.
    """
    if state.held:
        _report_once('Database %s is a copy of another (its database.uuid is %s, its callbacks were set up in %s '
                     'with %s): deliveries are held until an administrator decides in Settings > Other Settings > '
                     'Callbacks', state.database, state.database_uuid, state.remembered_name, state.remembered_uuid)
        return []
    if capacity <= 0:
        return []
    settings, paused = state.settings, state.paused
    busy_endpoints, busy_callbacks = {}, {}
    for job in in_flight:
        busy_endpoints[job.endpoint] = busy_endpoints.get(job.endpoint, 0) + 1
        busy_callbacks[job.callback_id] = busy_callbacks.get(job.callback_id, 0) + 1
    allowance = _rate_allowance(cr, [row[0] for row in state.callbacks if row[3] > 0])
    sharing = {}  # endpoint -> its callbacks
    for row in state.callbacks:
        sharing.setdefault(row[2], []).append(row[0])
    limits, urls, endpoint_of = OrderedDict(), {}, {}
    for callback_id, url, endpoint, _rate, max_in_flight in state.callbacks:
        if paused.get(endpoint):
            continue
        per_endpoint = 1 if endpoint in paused else settings.per_endpoint
        limit = min(capacity, per_endpoint - busy_endpoints.get(endpoint, 0),
                    allowance.get(callback_id, capacity),
                    callback_share(per_endpoint, callback_id, sharing[endpoint], busy_callbacks))
        if max_in_flight:
            limit = min(limit, max_in_flight - busy_callbacks.get(callback_id, 0))
        if limit > 0:
            limits[callback_id], urls[callback_id], endpoint_of[callback_id] = limit, url, endpoint
    if not limits:
        return []
    run(cr, 'candidates', _CANDIDATES, dict(cbs=list(limits), limits=list(limits.values()),
                                            urls=[urls[cb] for cb in limits]))
    per_callback = OrderedDict((callback_id, []) for callback_id in limits)
    for callback_id, delivery_id in cr.fetchall():  # first attempts, then retries
        per_callback[callback_id].append(delivery_id)
    candidates = OrderedDict()  # endpoint -> [delivery id, ...], its callbacks' in turn
    for endpoint, lists in _by_endpoint(per_callback, limits, endpoint_of).items():
        candidates[endpoint] = [delivery_id for turn in itertools.zip_longest(*lists) for delivery_id in turn
                                if delivery_id is not None]
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
    run(cr, 'lease', """
        UPDATE webhook_delivery d SET state = 'sending', lease_until = %s + interval '1 second' * %%(lease)s::float8
          FROM webhook_callback c WHERE c.id = d.callback_id AND d.id = ANY(%%(ids)s::int[])
        RETURNING %s""" % (NOW, JOB_COLUMNS), dict(lease=settings.lease, ids=ids))
    return sorted((Job(row) for row in cr.fetchall()), key=lambda job: job.id)


def callback_share(per_endpoint, callback_id, callbacks, busy):
    """How many more requests ``callback_id`` may have in flight to an endpoint it shares with
    ``callbacks`` (its own id included), ``busy``: requests in flight per callback. It keeps a slot
    free for each other callback of the endpoint that has none, so that a slow receiver never holds
    every slot of a host that others post to (it always has one itself).

    >>> callback_share(16, 1, [1, 2], {})          # 2 is idle: one slot stays free for it
    15
    >>> callback_share(16, 2, [1, 2], {1: 15})     # 2 may use the endpoint's last slot
    16
    >>> callback_share(16, 1, [1, 2], {1: 15})     # 1 already uses all it may
    0
    >>> callback_share(4, 1, [1, 2, 3, 4, 5, 6], {})  # more callbacks than slots: one each at least
    1
    >>> callback_share(16, 1, [1], {1: 3})         # alone on its endpoint
    13
    """
    idle_others = sum(1 for other in callbacks if other != callback_id and not busy.get(other))
    return max(1, per_endpoint - idle_others) - busy.get(callback_id, 0)


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


def _by_endpoint(per_callback, limits, endpoint_of):
    lists = OrderedDict()
    for callback_id, ids in per_callback.items():
        lists.setdefault(endpoint_of[callback_id], []).append(ids[:limits[callback_id]])
    return lists


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
    headers = dict(job.headers)  # never logged: they may carry credentials
    headers.update(signing.headers(job.keys, job.event_id, int(time.time()), job.body))
    return sender.post(connections, job.url, job.body, headers, settings.timeout_connect,
                       settings.timeout_total, handle=handle)


_ATTEMPT_COLUMNS = ('delivery_id, callback_id, attempted_at, status_code, duration_ms, response_excerpt, error, '
                    'success, sent_by, create_date, write_date')


def record(cr, state, results, sent_by=None):
    """Store each ``(job, Result)``: an attempt row each; the delivery done, retried later or
    failed; the endpoints' circuit breakers. Deliveries deleted meanwhile are skipped. Returns
    the endpoints whose breaker this opened. Delivered ones cost one statement in all.

    Whatever a receiver answered cannot stop the others' results: when the batch cannot be stored
    for another reason than the database (an answer that slipped through the sender's cleaning, a
    bug), its statements are undone and each result is stored alone; one that still fails is stored
    as a failed attempt of its delivery, "internal error: ...", retried by its schedule. Database
    errors are raised: the caller keeps the results for its next transaction."""
    if not results:
        return set()
    try:
        return _in_savepoint(cr, state, results, sent_by)
    except psycopg2.Error:
        raise
    except Exception:  # pylint: disable=broad-except  # see the docstring
        _logger.exception('account_webhook: recording %s results at once failed; one by one', len(results))
    opened = set()
    for job, result in results:
        try:
            opened |= _in_savepoint(cr, state, [(job, result)], sent_by)
        except psycopg2.Error:
            raise
        except Exception as error:  # pylint: disable=broad-except
            _logger.exception('account_webhook: delivery %s: its result could not be recorded', job.id)
            failure = sender.Result(error='internal error: the answer could not be recorded (%s: %s)' % (
                error.__class__.__name__, error), duration_ms=getattr(result, 'duration_ms', 0))
            opened |= _in_savepoint(cr, state, [(job, failure)], sent_by)
    return opened



def _in_savepoint(cr, state, results, sent_by):
    """_record in a savepoint, undone when it raises anything else than a database error."""
    cr.execute('SAVEPOINT account_webhook_record')
    try:
        opened = _record(cr, state, results, sent_by)
    except psycopg2.Error:
        raise  # the transaction is aborted: no savepoint to go back to, the caller rolls it back
    except Exception:
        cr.execute('ROLLBACK TO SAVEPOINT account_webhook_record')
        raise
    cr.execute('RELEASE SAVEPOINT account_webhook_record')
    return opened


def _record(cr, state, results, sent_by):
    now = datetime.datetime.utcnow().replace(microsecond=0)

    def attempt_row(job, result):
        return cr.mogrify('(%s, %s, %s::timestamp, %s, %s, %s, %s, %s, %s, %s::timestamp, %s::timestamp)', (
            job.id, job.callback_id, now, result.status_code or 0, result.duration_ms, result.excerpt or None,
            result.error, result.ok, sent_by, now, now)).decode()
    delivered = [(job, result) for job, result in results if result.ok]
    if delivered:
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
            now=now, sent_by=sent_by, ids=[job.id for job, _r in delivered],
            callbacks=[job.callback_id for job, _r in delivered], codes=[r.status_code for _j, r in delivered],
            durations=[r.duration_ms for _j, r in delivered], excerpts=[r.excerpt or None for _j, r in delivered]))
    failed = [(job, result) for job, result in results if not result.ok]
    if failed:
        _record_failures(cr, state.settings, failed, now, attempt_row)
    return _update_breakers(cr, state, results)


def _record_failures(cr, settings, failed, now, attempt_row):
    cr.execute('SELECT id, COALESCE(attempt_count, 0) FROM webhook_delivery WHERE id IN %s',
               (tuple(job.id for job, _result in failed),))
    attempts_so_far = dict(cr.fetchall())
    rows, attempts, gone = [], [], []
    for job, result in failed:
        if job.id not in attempts_so_far:
            continue
        attempt = attempts_so_far[job.id] + 1
        state, next_at, error = _after_failure(job, attempt, result, now, settings.retry_schedule)
        if result.status_code == 410:
            gone.append(job.callback_id)
        rows.append(cr.mogrify('(%s, %s, %s, %s, %s::timestamp, %s)', (
            job.id, state, attempt, result.status_code or 0, next_at, error)).decode())
        attempts.append(attempt_row(job, result))
    if not rows:
        return
    cr.execute("""
        UPDATE webhook_delivery d SET state = v.state, attempt_count = v.attempt, last_status_code = v.code,
               next_attempt_at = COALESCE(v.next_at, d.next_attempt_at), last_error = v.error,
               lease_until = NULL, write_date = %%s
          FROM (VALUES %s) v(id, state, attempt, code, next_at, error) WHERE d.id = v.id""" % ','.join(
        rows).replace('%', '%%'), (now,))
    # pylint: disable-next=sql-injection  # columns: a constant; rows built by cr.mogrify (values escaped)
    cr.execute('INSERT INTO webhook_delivery_attempt (%s) VALUES %s' % (_ATTEMPT_COLUMNS, ','.join(attempts)))
    if gone:
        deactivate(cr, gone, 'The receiver answered 410 Gone on %s UTC.' % now)


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
        if asked is not None:  # at most sender.MAX_RETRY_AFTER
            return asked
    return schedule[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)


def deactivate(cr, callback_ids, reason):
    """Deactivate callbacks (SQL: no registry here) and tell every Odoo process to drop its caches."""
    cr.execute("""UPDATE webhook_callback SET active = false, inactive_reason = %s,
                         write_date = (now() at time zone 'UTC')
                   WHERE id IN %s AND active RETURNING id, name""", (reason, tuple(set(callback_ids))))
    for callback_id, name in cr.fetchall():
        _logger.warning('Callback %s (%s) deactivated: %s', callback_id, name, reason)
    cr.execute("SELECT nextval('base_cache_signaling')")  # Odoo 11's cache invalidation signal


def _update_breakers(cr, state, results):
    """Count failures in a row per endpoint (timeouts, connection errors, 5xx); any other HTTP
    answer closes the breaker. At ``breaker_threshold`` the endpoint pauses for the cool-down.
    Healthy endpoints cost nothing. Returns the endpoints paused now."""
    settings = state.settings
    outcome = OrderedDict()  # endpoint -> [answered since the batch began, failures in a row, last error]
    for job, result in results:
        entry = outcome.setdefault(job.endpoint, [False, 0, None])
        if result.endpoint_down:
            entry[1] += 1
            entry[2] = result.error or 'HTTP %s' % result.status_code
        elif result.status_code is not None:
            entry[:] = [True, 0, None]
    recovered = [endpoint for endpoint, (answered, failures, _e) in outcome.items()
                 if answered and not failures and (endpoint in state.failing or endpoint in state.paused)]
    if recovered:
        cr.execute("""UPDATE webhook_endpoint SET consecutive_failures = 0, failing_since = NULL, paused_until = NULL,
                             last_error = NULL WHERE name IN %s RETURNING name""", (tuple(recovered),))
        for (endpoint,) in cr.fetchall():
            _logger.info('Endpoint %s answers again: circuit closed', endpoint)
            state.failing.discard(endpoint)
            state.paused.pop(endpoint, None)
    opened = set()
    for endpoint, (answered, failures, error) in outcome.items():
        if not failures:
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
        state.failing.add(endpoint)
        if in_a_row >= settings.breaker_threshold:
            cr.execute("UPDATE webhook_endpoint SET paused_until = %s + interval '1 second' * %%s WHERE name = %%s"
                       % NOW, (settings.breaker_cooldown, endpoint))
            _logger.warning('Endpoint %s: %s failures in a row (%s); circuit open, its deliveries wait %ss',
                            endpoint, in_a_row, error, int(settings.breaker_cooldown))
            state.paused[endpoint] = True
            opened.add(endpoint)
    return opened
