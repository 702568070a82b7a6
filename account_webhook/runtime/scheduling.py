# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Scheduling as pure functions, no SQL and no clock of their own (as OCA queue_job's
``channels.py``): how many requests a callback may start at an endpoint it shares, how a claim's
candidates are shared among endpoints and callbacks, and when a failed delivery is tried again.
Tested by their doctests and by tests/test_fair_share.py."""
import datetime
import itertools
import random
from collections import OrderedDict

from .. import sender

JITTER = 0.2  # a retry's delay is its schedule's +/- 20 %: receivers that came back are not hit at once


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


def requests(ids, batch_size):
    """A callback's candidate deliveries as requests: each delivery alone, or tuples of up to
    ``batch_size`` of them for a callback that sends batches.

    >>> requests([1, 2, 3], 1)
    [(1,), (2,), (3,)]
    >>> requests([1, 2, 3, 4, 5], 2)
    [(1, 2), (3, 4), (5,)]
    """
    return [tuple(ids[start:start + batch_size]) for start in range(0, len(ids), batch_size)]


def in_turn(per_callback, limits, endpoint_of):
    """The candidates of each endpoint, its callbacks' deliveries taken in turn (each callback's
    list cut at its limit), so that one callback's backlog does not go first.

    >>> dict(in_turn({1: [10, 11, 12], 2: [20], 3: [30]}, {1: 2, 2: 5, 3: 5}, {1: 'a', 2: 'a', 3: 'b'}))
    {'a': [10, 20, 11], 'b': [30]}
    """
    lists = OrderedDict()
    for callback_id, ids in per_callback.items():
        lists.setdefault(endpoint_of[callback_id], []).append(ids[:limits[callback_id]])
    return OrderedDict((endpoint, [delivery_id for turn in itertools.zip_longest(*turns) for delivery_id in turn
                                   if delivery_id is not None])
                       for endpoint, turns in lists.items())


def fair_share(candidates, capacity, per_endpoint, busy):
    """Round-robin over endpoints until ``capacity`` is used: no endpoint crowds out another, none
    gets more than ``per_endpoint`` with what it has in flight (``busy``).

    >>> dict(fair_share({'a': [1, 2, 3, 4], 'b': [5, 6]}, 4, 16, {}))
    {'a': [1, 2], 'b': [5, 6]}
    >>> dict(fair_share({'a': [1, 2, 3], 'b': [5]}, 10, 2, {'a': 1}))
    {'a': [1], 'b': [5]}
    """
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


def retry_delay(attempt, result, schedule):
    """Seconds before the next attempt after failed attempt number ``attempt``; None: give up. A
    429 or 503 with a Retry-After waits what it asks (at most sender.MAX_RETRY_AFTER).

    >>> retry_delay(3, sender.Result(status_code=500), [5, 300])  # the schedule is used up
    >>> retry_delay(1, sender.Result(status_code=429, retry_after='120'), [5, 300])
    120
    >>> 4 <= retry_delay(1, sender.Result(status_code=500), [5, 300]) <= 6
    True
    """
    if attempt > len(schedule):
        return None
    if result.status_code in (429, 503):
        asked = sender.retry_after_seconds(result.retry_after)
        if asked is not None:
            return asked
    return schedule[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)


def after_failure(attempt, result, now, schedule):
    """``(state, next attempt time or None, error text)`` of a delivery after its failed attempt
    number ``attempt`` at ``now``: 410 Gone and a refused target fail at once, the others wait
    their retry (retry_delay) until the schedule is used up.

    >>> now = datetime.datetime(2026, 1, 1)
    >>> after_failure(1, sender.Result(status_code=410), now, [5])[:2]
    ('failed', None)
    >>> after_failure(1, sender.Result(status_code=429, retry_after='60'), now, [5])
    ('pending', datetime.datetime(2026, 1, 1, 0, 1), 'HTTP 429: ')
    >>> after_failure(2, sender.Result(error='timed out'), now, [5])
    ('failed', None, 'timed out')
    """
    error = result.error or 'HTTP %s: %s' % (result.status_code, (result.excerpt or '')[:500])
    if result.status_code == 410:
        return 'failed', None, 'HTTP 410 Gone: the receiver asked to stop; the callback was deactivated.'
    if result.blocked:
        return 'failed', None, error
    delay = retry_delay(attempt, result, schedule)
    if delay is None:
        return 'failed', None, error
    return 'pending', now + datetime.timedelta(seconds=delay), error
