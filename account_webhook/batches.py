# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Cron work in short transactions: housekeeping, backfill and replay, with one loop and one set of timeouts.

A cron job of the addon that has much to do (delete old deliveries, queue a backfill, queue a
replay) does it in batches (``run_batches``), each its own transaction committed at once
(``short_transaction`` with ``commit``: the cron's own cursor) or, in tests and in callers that
hold a transaction, a savepoint of it. A batch waits at most LOCK_TIMEOUT for a lock and gives
way (it goes on at the next call) rather than queueing behind an upgrade or an administrator's
long transaction; a statement slower than STATEMENT_TIMEOUT is cancelled; the job stops at its
time budget.
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
LOCK_TIMEOUT = '2s'  # waiting longer for a lock (an upgrade's CREATE INDEX, say): give way, go on next call
STATEMENT_TIMEOUT = '5s'  # a statement slower than this is cancelled (housekeeping then makes its batch smaller)
_TIMEOUTS = "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)"


def cron_commits():
    """Whether a cron job commits its batches: always, except in tests, which run in one
    transaction that is rolled back (as Odoo's mail queue decides)."""
    return not getattr(threading.current_thread(), 'testing', False)


@contextmanager
def short_transaction(cr, commit, lock_timeout=LOCK_TIMEOUT, statement_timeout=STATEMENT_TIMEOUT):
    """One batch: its own transaction (READ COMMITTED, committed at the end, rolled back on error;
    what the caller's cursor did before is committed first) when ``commit``, else a savepoint;
    with these lock and statement timeouts for its duration."""
    if commit:
        # the batch starts a transaction of its own: what the cron read before it (a callback's model,
        # say) ends here, so that the isolation level can be set, which must come first
        cr.commit()  # pylint: disable=invalid-commit  # cron only (commit): one transaction a batch
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


class Run(object):
    """What run_batches did: the sum of the batches' counts, how many batches ran and the longest
    one (seconds), and why it stopped: ``finished``, ``time`` (its budget), ``lock`` or another
    SQLSTATE of GIVE_WAY (with ``stop_on_give_way``), ``cron`` (``should_stop``)."""

    def __init__(self):
        self.total, self.batches, self.longest, self.stopped = 0, 0, 0.0, 'finished'

    def timed(self, started):
        self.batches += 1
        self.longest = max(self.longest, time.monotonic() - started)


def run_batches(items, batch, max_seconds, commit, name, run=None, stop_on_give_way=False, retry=None,
                should_stop=None):
    """Call ``batch(item)`` for each item in turn, again as long as it returns ``(count, True)``
    (more to do), for at most ``max_seconds`` (the next batch is not started when it would end
    later, judged by the last one; at least one batch a call, counting those already in ``run``,
    so that each call makes progress). ``batch`` runs its own short_transaction. Returns the Run.

    When a batch fails: ``retry(error)`` true tries the item again (housekeeping makes its batch
    smaller after a statement timeout). A lock or serialization failure (GIVE_WAY) stops the whole
    run with ``stop_on_give_way``, else only this item until the next call. Any other error is raised
    in tests (not ``commit``) and with ``stop_on_give_way``; in the cron it is logged with
    ``name(item)`` and the other items go on. ``should_stop()``, asked after a batch that left more
    to do, ends the run early (``cron``)."""
    run = run or Run()
    started, last = time.monotonic(), 0.0
    for item in items:
        more = True
        while more:
            if run.batches and time.monotonic() - started + last > max_seconds:
                run.stopped = 'time'
                return run
            step = time.monotonic()
            try:
                count, more = batch(item)
            except Exception as error:  # rolled back by the batch's own transaction
                code = getattr(error, 'pgcode', None) if isinstance(error, psycopg2.Error) else None
                if retry and retry(error):
                    continue
                if code in GIVE_WAY and stop_on_give_way:
                    run.stopped = 'lock' if code == errorcodes.LOCK_NOT_AVAILABLE else code
                    return run
                if not commit or (stop_on_give_way and code not in GIVE_WAY):
                    raise
                if code in GIVE_WAY:
                    _logger.info('%s gave way (%s); next time', name(item), code)
                else:  # the other items go on; this one is tried again at the next call
                    _logger.exception('%s: batch failed; tried again next time', name(item))
                break
            run.timed(step)
            last = time.monotonic() - step
            run.total += count
            if more and should_stop and should_stop():
                run.stopped = 'cron'
                return run
    return run


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
