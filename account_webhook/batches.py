# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Cron work in short transactions: housekeeping, backfill and replay.

A cron job of the addon that has much to do (delete old deliveries, queue a backfill, queue a
replay) does it in batches, each its own transaction committed at once (``commit``: the cron's
own cursor) or, in tests and in callers that hold a transaction, a savepoint of it. A batch waits
only a little for a lock and gives way (it goes on at the next call) rather than queueing behind
an upgrade or an administrator's long transaction; the job stops at its time budget.
"""
import logging
import threading
import time
from contextlib import contextmanager

import psycopg2
from psycopg2 import errorcodes

_logger = logging.getLogger(__name__)

# a lock not granted in time, a serialization failure, a deadlock, a statement over its timeout:
# the batch gives way, and the work goes on at the next call
GIVE_WAY = (errorcodes.LOCK_NOT_AVAILABLE, errorcodes.SERIALIZATION_FAILURE, errorcodes.DEADLOCK_DETECTED,
            errorcodes.QUERY_CANCELED)
_TIMEOUTS = "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)"


def cron_commits():
    """Whether a cron job commits its batches: always, except in tests, which run in one
    transaction that is rolled back (as Odoo's mail queue decides)."""
    return not getattr(threading.current_thread(), 'testing', False)


@contextmanager
def short_transaction(cr, commit, lock_timeout, statement_timeout):
    """One batch: its own transaction (READ COMMITTED, committed at the end, rolled back on error)
    when ``commit``, else a savepoint; with these lock and statement timeouts for its duration."""
    if commit:
        try:
            cr.execute('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')  # SKIP LOCKED, no serialization errors
            cr.execute(_TIMEOUTS, (lock_timeout, statement_timeout))
            yield
            cr.commit()  # pylint: disable=invalid-commit  # cron only: one transaction a batch
        except Exception:
            cr.rollback()
            raise
    else:
        with cr.savepoint():
            cr.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
            saved = cr.fetchone()
            cr.execute(_TIMEOUTS, (lock_timeout, statement_timeout))
            yield
            cr.execute(_TIMEOUTS, saved)


def run_batches(items, batch, max_seconds, commit, name):
    """Call ``batch(item)`` for each item in turn, again as long as it returns ``(count, True)``
    (more to do), for at most ``max_seconds`` (the next batch is not started when it would end
    later, judged by the last one; at least one batch a call, so that each call makes progress).
    ``batch`` runs its own short transaction (see short_transaction). When one fails: in tests
    (not ``commit``) the error is raised; in the cron it is logged with ``name(item)`` and the
    other items go on (a lock or a serialization failure only gives way). Returns the sum of
    the counts."""
    started = time.monotonic()
    total, last, batches = 0, 0.0, 0
    for item in items:
        more = True
        while more:
            if batches and time.monotonic() - started + last > max_seconds:
                return total
            step = time.monotonic()
            batches += 1
            try:
                count, more = batch(item)
            except Exception as error:  # rolled back by the batch's own transaction
                if not commit:
                    raise
                if isinstance(error, psycopg2.Error) and error.pgcode in GIVE_WAY:
                    _logger.info('%s gave way (%s); next time', name(item), error.pgcode)
                else:  # the other items go on; this one is tried again at the next call
                    _logger.exception('%s: batch failed; tried again next time', name(item))
                break
            last = time.monotonic() - step
            total += count
    return total


def wake_cron(env, xmlid):
    """Set the next call of the cron ``xmlid`` to now, unless it runs right now (its row is locked
    by Odoo's cron runner: then it comes at its next interval). Never waits for a lock; a failure
    only logs (the cron comes within its interval anyway)."""
    cron = env.ref(xmlid, raise_if_not_found=False)
    if not cron:
        return False
    try:
        with env.cr.savepoint():
            env.cr.execute("""UPDATE ir_cron SET nextcall = now() at time zone 'UTC'
                               WHERE id IN (SELECT id FROM ir_cron WHERE id = %s AND active
                                             FOR UPDATE SKIP LOCKED)""", (cron.id,), log_exceptions=False)
            woken = bool(env.cr.rowcount)
    except psycopg2.Error as error:
        _logger.info('Cron %s not woken (%s): it runs at its next interval', xmlid, error.pgcode)
        woken = False
    cron.invalidate_cache(ids=cron.ids)
    return woken
