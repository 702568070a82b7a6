# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Recording: what each attempt gave, stored in one transaction (through ``outbox``), and the
endpoints' circuit breakers it moves. Whatever a receiver answered, the other results are kept."""
import datetime
import logging
from collections import OrderedDict

import psycopg2

from .. import sender
from . import outbox, scheduling
from .state import NOW, run

_logger = logging.getLogger(__name__)


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
    # the database's clock, as the claims read it: a retry is due when the claims say it is
    run(cr, 'now', "SELECT to_char(%s, 'YYYY-MM-DD HH24:MI:SS')" % NOW)  # Odoo's cursors give dates as text
    now = datetime.datetime.strptime(cr.fetchone()[0], '%Y-%m-%d %H:%M:%S')
    delivered = [(job, result) for job, result in results if result.ok]
    if delivered:
        outbox.delivered(cr, now, delivered, sent_by)
    failed = [(job, result) for job, result in results if not result.ok]
    if failed:
        _record_failures(cr, state.settings, failed, now, sent_by)
    return _update_breakers(cr, state, results)


def _record_failures(cr, settings, failed, now, sent_by):
    attempts_so_far = outbox.attempts_so_far(cr, [event.id for job, _result in failed for event in job.events])
    outcomes, gone = [], []
    for job, result in failed:
        if result.status_code == 410:
            gone.append(job.callback_id)
        for event in job.events:
            if event.id not in attempts_so_far:
                continue  # deleted meanwhile
            attempt = attempts_so_far[event.id] + 1
            state, next_at, error = scheduling.after_failure(attempt, result, now, settings.retry_schedule)
            if result.blocked:
                _logger.warning('Callback %s: delivery %s refused: %s', job.callback_id, event.id, result.error)
            elif result.status_code != 410:
                _logger.info('Callback %s: delivery %s attempt %s failed (%s); now %s', job.callback_id, event.id,
                             attempt, error, state)
            outcomes.append((job, event, result, attempt, state, next_at, error))
    outbox.failed(cr, now, outcomes, sent_by)
    if gone:
        outbox.deactivate(cr, gone, 'The receiver answered 410 Gone on %s UTC.' % now)


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
