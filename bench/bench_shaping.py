# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Request shaping (templates, answer rules, batches, rate limits), measured side by side in one run.
Receivers on 127.0.0.1 only; every call has a timeout; the delivery engine is a `webhook-dispatch`
process, measured end to end from the commit of the outbox rows.

1. What a template costs per delivery: the same N events (5,000) sent by the engine to the same sink
   (10 endpoints answering at once with {"status": "successful", "data": {"id": 1}}): (a) callbacks
   without templates (today's body), (b) the same callbacks with a path template, a body template,
   an answer rule and a receiver's id path. Rounds interleaved; events/s of each and the ratio of
   time per delivery (b)/(a). And the cost per event of the rendering itself (timeit):
   shaping.render_body with the template vs today's body (the stored JSON encoded to bytes).
2. A receiver allowing 100 calls per 60 s (examples/invoice_item_api.py enforcing it, the callback's
   rate limit set to it), 10,000 events: with batches of 100 (measured to the end), and without
   batches: one window measured for real (the first 100 events, then the 101st waiting for the
   window); the time for 10,000 events is projected from that measured rate, not run (100 minutes).

Usage: python bench/bench_shaping.py DB [--config FILE] [--events N] [--rounds R] [--quick]
(--quick: 1,000 events, 1 round, and the 101st event is only seen waiting for 5 s, not for the window)
"""
import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import timeit
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'bench'))
import sink  # noqa: E402

# what an API like the example's answers; the sink of scenario 1 answers it to (a) and (b) alike
ANSWER = b'{"status": "successful", "data": {"id": 1}}'
PATH_TEMPLATE = '/CreateInvoiceItem/{id}'
BODY_TEMPLATE = '{"description": values["name"], "amount": 1, "quantity": 1}'
BATCH_PATH_TEMPLATE = '/CreateInvoiceItems/{id}'
BATCH_BODY_TEMPLATE = '[{"description": e["values"]["name"], "amount": 1, "quantity": 1} for e in events]'
SHAPED = {'path_template': PATH_TEMPLATE, 'body_template': BODY_TEMPLATE, 'answer_rule': 'status == "successful"',
          'answer_message_path': 'message', 'receiver_id_path': 'data.id'}
RATE_LIMIT, RATE_WINDOW, BATCH = 100, 60, 100


import odoo_compat  # noqa: E402

odoo_compat.install()
import odoo  # noqa: E402

odoo_compat.patch_odoo()
sys.path.insert(0, os.path.join(ROOT, 'examples'))
from invoice_item_api import InvoiceItemApi  # noqa: E402


def _body(i, event_id):
    """The stored event JSON of a contact created (bench_engine.py's)."""
    return ('{"object": "res.partner", "operation": "create", "id": %d, "values": {"name": "Bench contact %d", '
            '"email": "bench%d@example.com"}, "event_id": "%s", "timestamp": "2026-11-27T00:00:00Z"}'
            % (100000 + i, i, i, event_id))


class Bench(object):
    """Callbacks of its own (named 'bench shaping …'), the only active ones while it runs; ``cleanup()``
    deletes them with their deliveries, attempts, receiver ids and endpoints, reactivates the
    callbacks it deactivated and restores the parameter it set."""

    def __init__(self, database, config):
        self.database, self.config = database, config
        self.registry = odoo.registry(database)
        self.dispatcher = None
        self.created = []
        self.deactivated = []
        self.allowed_targets = None

    def env(self):
        return odoo.api.Environment(self.registry.cursor(), odoo.SUPERUSER_ID, {})

    def begin(self):
        env = self.env()
        try:
            Callback = env['webhook.callback']
            self.allowed_targets = env['ir.config_parameter'].get_param('account_webhook.allowed_targets')
            env['ir.config_parameter'].set_param('account_webhook.allowed_targets', '127.0.0.1')
            others = Callback.search([])
            self.deactivated = others.ids
            others.write({'active': False})
            env.cr.commit()
        finally:
            env.cr.close()

    def callbacks(self, urls, **values):
        """One active callback per URL (contacts created, their name), with ``values``; returns their ids."""
        env = self.env()
        try:
            ids = [env['webhook.callback'].create(dict(
                name='bench shaping %d' % (len(self.created) + i), model='res.partner', action='create',
                field_names=['name'], url=url, **values)).id for i, url in enumerate(urls)]
            env.cr.commit()
        finally:
            env.cr.close()
        self.created.extend(ids)
        return ids

    def activate(self, ids):
        """Only these of ours active; the outbox of ours emptied."""
        self.sql("DELETE FROM webhook_delivery WHERE callback_id = ANY(%s)", (self.created,))
        self.sql("UPDATE webhook_callback SET active = (id = ANY(%s)) WHERE id = ANY(%s)", (ids, self.created))

    def sql(self, query, params=None):
        env = self.env()
        try:
            env.cr.execute(query, params)
            rows = env.cr.fetchall() if env.cr.description else None
            env.cr.commit()
            return rows
        finally:
            env.cr.close()

    def enqueue(self, callback_ids, count):
        """``count`` outbox rows, spread over the callbacks, a record each, committed at once (through the
        outbox API capture uses); returns the commit time and the event ids."""
        env = self.env()
        try:
            rows = []
            for i in range(count):
                event_id = str(uuid.uuid4())
                rows.append((callback_ids[i % len(callback_ids)], event_id, 'res.partner', 100000 + i, 'create',
                             _body(i, event_id)))
            env['webhook.delivery']._enqueue(rows)
            env.cr.commit()
            return time.time(), set(row[1] for row in rows)
        finally:
            env.cr.close()

    def done(self, callback_ids):
        return self.sql("SELECT count(*) FROM webhook_delivery WHERE callback_id = ANY(%s) AND state = 'done'",
                        (callback_ids,))[0][0]

    def start_dispatcher(self):
        log = os.path.join(ROOT, 'var', 'log', 'bench-shaping-dispatch.log')
        self.dispatcher = subprocess.Popen([
            sys.executable, os.path.join(ROOT, 'scripts', 'odoo'), 'webhook-dispatch', '-c', self.config,
            '-d', self.database, '--log-level=warn', '--logfile=%s' % log])
        deadline = time.time() + 60
        while not self.sql("""SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                               AND application_name = 'account_webhook dispatcher' AND query LIKE 'LISTEN%'""")[0][0]:
            assert self.dispatcher.poll() is None, 'the dispatcher exited (see %s)' % log
            assert time.time() < deadline, 'the dispatcher did not start'
            time.sleep(0.2)

    def stop_dispatcher(self):
        if self.dispatcher is None:
            return
        self.dispatcher.terminate()
        try:
            self.dispatcher.wait(30)
        except subprocess.TimeoutExpired:
            self.dispatcher.kill()
            self.dispatcher.wait(10)
        self.dispatcher = None

    def cleanup(self):
        self.stop_dispatcher()
        env = self.env()
        try:
            if self.created:
                env.cr.execute("SELECT DISTINCT endpoint FROM webhook_callback WHERE id = ANY(%s)", (self.created,))
                endpoints = [row[0] for row in env.cr.fetchall()]
                env.cr.execute("DELETE FROM webhook_delivery WHERE callback_id = ANY(%s)", (self.created,))
                env.cr.execute("DELETE FROM webhook_receiver_ref WHERE callback_id = ANY(%s)", (self.created,))
                env['webhook.callback'].with_context(active_test=False).browse(self.created).unlink()
                env.cr.execute("""DELETE FROM webhook_endpoint e WHERE e.name = ANY(%s) AND NOT EXISTS (
                                  SELECT 1 FROM webhook_callback c WHERE c.endpoint = e.name)""", (endpoints,))
            if self.deactivated:
                env['webhook.callback'].with_context(active_test=False).browse(self.deactivated).exists().write(
                    {'active': True})
            if self.allowed_targets is None:
                env.cr.execute("DELETE FROM ir_config_parameter WHERE key = 'account_webhook.allowed_targets'")
            else:
                env['ir.config_parameter'].set_param('account_webhook.allowed_targets', self.allowed_targets)
            env.cr.commit()
        finally:
            env.cr.close()
        self.created, self.deactivated = [], []


# -- 1. what a template costs ------------------------------------------------------------------------------

def run_once(bench, api_sink, callback_ids, events):
    """Events/s from the commit until the last request arrived; all arrived once and recorded done."""
    bench.activate(callback_ids)
    api_sink.reset()
    bench.start_dispatcher()
    try:
        committed, sent = bench.enqueue(callback_ids, events)
        assert api_sink.wait_for(events, timeout=300), 'not all events arrived'
        records = api_sink.records()
        rate = events / (max(at for _i, _id, at in records) - committed)
        deadline = time.time() + 60
        while bench.done(callback_ids) < events and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        records = api_sink.records()
        received = [event_id for _i, event_id, _at in records]
        assert set(received) == sent and len(received) == events, 'lost or duplicated events'
        done = bench.done(callback_ids)
        assert done == events, 'only %d of %d recorded done' % (done, events)
        return rate
    finally:
        bench.stop_dispatcher()


def template_cost(bench, events, rounds):
    from odoo.addons.account_webhook import shaping
    with sink.Sink([0.0] * 10, answer=ANSWER) as api_sink:
        plain = bench.callbacks(api_sink.urls)
        shaped = bench.callbacks(api_sink.urls, **SHAPED)
        figures = {'plain': [], 'shaped': []}
        for number in range(rounds):  # interleaved, the order alternating
            order = [('plain', plain), ('shaped', shaped)]
            for name, ids in order if number % 2 == 0 else order[::-1]:
                figures[name].append(run_once(bench, api_sink, ids, events))
        refs = bench.sql("SELECT count(*) FROM webhook_receiver_ref WHERE callback_id = ANY(%s) AND receiver_id = '1'",
                         (shaped,))[0][0]
    plain_rate, shaped_rate = statistics.median(figures['plain']), statistics.median(figures['shaped'])

    event = _body(0, str(uuid.uuid4()))
    parsed = json.loads(event)

    def per_event(function):
        timer = timeit.Timer(function)
        number, _seconds = timer.autorange()
        return min(timer.repeat(5, number)) / number * 1e6
    micro = [
        ("today's body: render_body without template (the stored JSON, encoded)",
         per_event(lambda: shaping.render_body(None, [event], [None]))),
        ('json.dumps(event).encode() (for scale)', per_event(lambda: json.dumps(parsed).encode('utf-8'))),
        ('render_body with the body template', per_event(lambda: shaping.render_body(BODY_TEMPLATE, [event], [None]))),
        ('render_path %s' % PATH_TEMPLATE, per_event(lambda: shaping.render_path(PATH_TEMPLATE, parsed))),
        ('judge: answer rule + receiver id', per_event(lambda: shaping.judge(
            SHAPED['answer_rule'], 'message', 'data.id', 200, ANSWER))),
    ]
    print('What a template costs, %d events to 10 endpoints answering at once (%s), the delivery engine end to end, '
          'median of %d interleaved rounds:' % (events, ANSWER.decode(), rounds))
    print('  (a) callbacks without templates                      %7.0f /s   %6.0f µs per delivery'
          % (plain_rate, 1e6 / plain_rate))
    print('  (b) path + body template, answer rule, receiver id   %7.0f /s   %6.0f µs per delivery   '
          '(receiver ids kept: %d)' % (shaped_rate, 1e6 / shaped_rate, refs))
    print('  per event, in the sender thread (timeit, best of 5):')
    for label, micro_seconds in micro:
        print('    %-72s %8.1f µs' % (label, micro_seconds))
    sys.stdout.flush()
    return plain_rate / shaped_rate, micro[2][1] / micro[0][1], micro[2][1] + micro[3][1] + micro[4][1]


# -- 2. a receiver allowing 100 calls per 60 s -------------------------------------------------------------

def _api_callback(bench, api, batch_size):
    values = dict(SHAPED, headers='Apikey: %s' % api.api_key, rate_limit=RATE_LIMIT,
                  batch_size=batch_size)
    if batch_size > 1:  # the bulk route; a batch's receiver ids are not read
        values.update(path_template=BATCH_PATH_TEMPLATE, body_template=BATCH_BODY_TEMPLATE, receiver_id_path=False)
    ids = bench.callbacks([api.url], **values)
    bench.activate(ids)
    return ids


def _answers(api):
    requests = api.requests
    return len(requests), sum(1 for request in requests if request['code'] == 429), \
        sum(1 for request in requests if request['status'] != 'successful')


def with_batches(bench, events):
    """Measured to the end: every event recorded done."""
    api = InvoiceItemApi(secrets.token_hex(20), rate_limit=RATE_LIMIT, rate_window=RATE_WINDOW).start()
    try:
        ids = _api_callback(bench, api, BATCH)
        bench.start_dispatcher()
        try:
            committed, _sent = bench.enqueue(ids, events)
            deadline = committed + 2 * RATE_WINDOW + 60
            while bench.done(ids) < events and time.time() < deadline:
                time.sleep(0.05)
            elapsed = time.time() - committed
        finally:
            bench.stop_dispatcher()
        done = bench.done(ids)
        calls, limited, refused = _answers(api)
        items = len(api.items)
    finally:
        api.close()
    assert done == events, 'only %d of %d events done in %.0f s' % (done, events, elapsed)
    return elapsed, calls, limited, refused, items


def without_batches(bench, events, quick):
    """One window for real: the first RATE_LIMIT events, then the next one waiting for the window."""
    api = InvoiceItemApi(secrets.token_hex(20), rate_limit=RATE_LIMIT, rate_window=RATE_WINDOW).start()
    try:
        ids = _api_callback(bench, api, 1)
        bench.start_dispatcher()
        try:
            committed, _sent = bench.enqueue(ids, events)
            first = full = None
            watch = 5 if quick else RATE_WINDOW + 20
            deadline = committed + 60
            while time.time() < deadline:
                done = bench.done(ids)
                now = time.time()
                if done and first is None:
                    first = now
                if done >= RATE_LIMIT and full is None:
                    full, deadline = now, now + watch
                if done > RATE_LIMIT:
                    break
                time.sleep(0.05)
            after_window = time.time() if done > RATE_LIMIT else None
            waited = time.time() - full if full else None
        finally:
            bench.stop_dispatcher()
        calls, limited, refused = _answers(api)
    finally:
        api.close()
    assert full is not None, 'the first %d events were not done within 60 s' % RATE_LIMIT
    return committed, first, full, after_window, waited, calls, limited, refused


def rate_limited(bench, events, quick):
    print('A receiver allowing %d calls per %d s (the example API enforcing it, the callback\'s rate limit set to '
          'it), %d events:' % (RATE_LIMIT, RATE_WINDOW, events))
    sys.stdout.flush()
    elapsed, calls, limited, refused, items = with_batches(bench, events)
    print('  with batches of %d        measured   %7.1f s   (%d requests, %d answered 429, %d refused; %d invoice '
          'items created)' % (BATCH, elapsed, calls, limited, refused, items))
    sys.stdout.flush()
    committed, first, full, after_window, waited, calls, limited, refused = without_batches(bench, events, quick)
    if after_window:
        wait = 'until %.1f s after the first was done' % (after_window - first)
    else:
        wait = 'at least %.1f s (not waited for further%s)' % (waited, ', --quick' if quick else '')
    print('  without batches, one window measured: the first %d events done %.1f s after the commit; the next waited '
          '%s (%d requests until it was stopped, %d answered 429, %d refused)'
          % (RATE_LIMIT, full - committed, wait, calls, limited, refused))
    if after_window:
        period, how = after_window - first, 'measured'
    else:  # --quick: the window is not waited for; its length is the limit's
        period, how = RATE_WINDOW + (full - first), 'assumed (--quick)'
    rate = RATE_LIMIT / period
    projected = events / rate
    print('  without batches           projected %7.1f s = %.0f min   projected from the measured rate: %d events '
          'per %.1f s (%s), not run' % (projected, projected / 60, RATE_LIMIT, period, how))
    sys.stdout.flush()
    return projected / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('database')
    parser.add_argument('--config', default=os.path.join(ROOT, 'var', 'odoo.conf'))
    parser.add_argument('--events', type=int, default=None, help='scenario 1 (default 5,000; --quick 1,000)')
    parser.add_argument('--rounds', type=int, default=None, help='scenario 1 (default 3; --quick 1)')
    parser.add_argument('--rate-events', type=int, default=10000, help='scenario 2 (default 10,000)')
    parser.add_argument('--quick', action='store_true', help='small sizes and no wait for the rate window')
    args = parser.parse_args()
    events = args.events or (1000 if args.quick else 5000)
    rounds = args.rounds or (1 if args.quick else 3)
    odoo.tools.config.parse_config(['-c', args.config, '-d', args.database, '--log-level=warn'])
    bench = Bench(args.database, args.config)
    with odoo.api.Environment.manage():
        try:
            bench.begin()
            slower, micro_ratio, micro_shaped = template_cost(bench, events, rounds)
            print()
            faster = rate_limited(bench, args.rate_events, args.quick)
        finally:
            bench.cleanup()
    print()
    print('Ratios: time per delivery with templates / without %.2fx (rendering + judging %.0f µs per event; '
          'render_body %.0fx today\'s body); %d events at %d calls per %d s: without batches (projected) / with '
          'batches of %d (measured) %.0fx' % (slower, micro_shaped, micro_ratio, args.rate_events, RATE_LIMIT,
                                               RATE_WINDOW, BATCH, faster))


if __name__ == '__main__':
    main()
