# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Claiming: which due deliveries a dispatcher leases now, in SQL (``FOR UPDATE SKIP LOCKED``),
within the per-endpoint, per-callback and rate limits, the circuit breakers and the fair share
(``scheduling``); the lease itself is written by ``outbox.lease``."""
import logging
from collections import OrderedDict

from . import events, outbox, scheduling
from .state import NOW, report_once, run

_logger = logging.getLogger(__name__)

RATE_WINDOW = 60  # a callback's "max calls per minute" counts the attempts of this many seconds
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
    The captured events committed since are fanned out into deliveries first (``events.expand``).

    ``state``: ``read_state()`` of this transaction. ``in_flight``: the caller's Jobs still being
    sent (they count against the per-endpoint and per-callback limits). First attempts go before
    retries (and expired leases); an endpoint whose circuit breaker is open is skipped, and after
    its cool-down one delivery probes it. Rows another dispatcher holds are skipped (SKIP
    LOCKED); candidates not chosen are only locked until the caller commits. A held database (a
    copy, see State) gets nothing.
    """
    if events.expand_own is not None:
        events.expand_own(cr)  # on an Odoo cursor: the changes of its own transaction
    events.expand(cr)  # the changes committed since: their deliveries (the commit wakes the dispatchers again)
    if state.held:
        report_once('Database %s is a copy of another (its database.uuid is %s, its callbacks were set up in %s '
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
    allowance = _rate_allowance(cr, [callback.id for callback in state.callbacks if callback.rate_limit > 0])
    sharing = {}  # endpoint -> its callbacks
    for callback in state.callbacks:
        sharing.setdefault(callback.endpoint, []).append(callback.id)
    limits, urls, endpoint_of, batch_of = OrderedDict(), {}, {}, {}
    for callback in state.callbacks:
        endpoint = callback.endpoint
        if paused.get(endpoint):
            continue
        per_endpoint = 1 if endpoint in paused else settings.per_endpoint
        limit = min(capacity, per_endpoint - busy_endpoints.get(endpoint, 0),
                    allowance.get(callback.id, capacity),
                    scheduling.callback_share(per_endpoint, callback.id, sharing[endpoint], busy_callbacks))
        if callback.max_in_flight:
            limit = min(limit, callback.max_in_flight - busy_callbacks.get(callback.id, 0))
        if limit > 0:
            limits[callback.id], urls[callback.id], endpoint_of[callback.id] = limit, callback.url, endpoint
            batch_of[callback.id] = max(1, callback.batch_size or 1)
    if not limits:
        return []
    # limits count requests; a batch callback's request takes up to batch_size deliveries
    run(cr, 'candidates', _CANDIDATES, dict(cbs=list(limits), limits=[limits[cb] * batch_of[cb] for cb in limits],
                                            urls=[urls[cb] for cb in limits]))
    per_callback = OrderedDict((callback_id, []) for callback_id in limits)
    for callback_id, delivery_id in cr.fetchall():  # first attempts, then retries
        per_callback[callback_id].append(delivery_id)
    per_callback = OrderedDict((callback_id, scheduling.requests(ids, batch_of[callback_id]))
                               for callback_id, ids in per_callback.items())
    candidates = scheduling.in_turn(per_callback, limits, endpoint_of)  # endpoint -> [request, ...]
    chosen = scheduling.fair_share(candidates, capacity, settings.per_endpoint, busy_endpoints)
    for endpoint in [e for e in chosen if e in paused]:  # half-open: one probe, among all dispatchers
        cr.execute("UPDATE webhook_endpoint SET paused_until = %s + interval '1 second' * %%s "
                   "WHERE name = %%s AND paused_until <= %s RETURNING id" % (NOW, NOW), (settings.lease, endpoint))
        if cr.fetchone():
            chosen[endpoint] = chosen[endpoint][:1]
            _logger.info('Endpoint %s: cool-down over, probing it with one delivery', endpoint)
        else:
            del chosen[endpoint]
    requests = [request for chosen_requests in chosen.values() for request in chosen_requests]
    if not requests:
        return []
    return outbox.merge(outbox.lease(cr, [delivery_id for request in requests for delivery_id in request],
                                     settings.lease), requests)


def _rate_allowance(cr, callback_ids):
    """How many more requests each rate-limited callback may start now (all dispatchers together):
    an attempt counts as the share of its request it was (a batch of 10 events is one request)."""
    if not callback_ids:
        return {}
    for callback_id in callback_ids:  # two dispatchers must not both spend the same allowance
        cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (0x7765626b, callback_id))
    cr.execute("""
        SELECT c.id, c.rate_limit
               - ceil((SELECT COALESCE(sum(1.0 / GREATEST(COALESCE(a.request_size, 1), 1)), 0)
                         FROM webhook_delivery_attempt a
                        WHERE a.callback_id = c.id AND a.attempted_at > %s - interval '1 second' * %%s)
                      + (SELECT count(*) FROM webhook_delivery d
                          WHERE d.callback_id = c.id AND d.state = 'sending' AND d.lease_until >= %s)
                        / GREATEST(COALESCE(c.batch_size, 1), 1)::numeric)::int
          FROM webhook_callback c WHERE c.id IN %%s""" % (NOW, NOW), (RATE_WINDOW, tuple(callback_ids)))
    return dict(cr.fetchall())
