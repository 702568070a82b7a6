"""What change capture costs the accountant's write path, measured side by side.

For partner create, partner write and invoice write, in batches of 1 and 1000, time per
record in three modes, interleaved in one run on the same database:
  off        the addon's triggers switched off (system parameter account_webhook.capture_disabled)
  no match   triggers on, callbacks exist but none for this model
  3 match    triggers on, 3 active callbacks on this model tracking 3 fields each (events written)
  10 match   the same with 10 active callbacks on this model, each tracking its own 3 fields
Each sample runs in its own transaction, rolled back afterwards. Ratios are medians against `off`.
Targets: no match <= 1.02x (issue 4); batch writes of 1000 records: 3 match <= 2.0x and 10 match
<= 3x, a single write with 3 match <= 1.10x (issue 25).

`--profile`: after the table, where the time of one 1000-record partner write with 3 and with 10
matching callbacks goes (cProfile of the write, the capture's flush and its parts).

`partner write filter`: the cost of a callback's filter, one callback (3 fields) on partner
writes with no filter beside the same callback with a filter every written partner matches
(events written in both), interleaved with `off` the same way; the ratio that matters is
filter / no filter.

`backfill`: the rate of a callback's backfill (webhook.callback._run_backfills, the body of the
backfill cron, committing each batch), over --backfill-size contacts (20,000; made once with
one SQL statement), in records enqueued per second. Its events are deleted afterwards.

Usage: python bench/bench_capture.py DB [--rounds N] [--scenarios a,b] [--backfill-size N] [--profile]
"""
import argparse
import logging
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import odoo_compat  # noqa: E402

odoo_compat.install()
import odoo  # noqa: E402

odoo_compat.patch_odoo()

# Each callback tracks a written field (partner writes: email, phone; invoice writes: comment, reference):
# every written record is an event of every matching callback. The first 3 are the `3 match` mode's.
FIELDS = {
    'res.partner': [('email', 'phone', 'street'), ('email', 'city', 'zip'), ('phone', 'website', 'comment'),
                    ('email', 'mobile', 'name'), ('phone', 'street2', 'ref'), ('email', 'function', 'vat'),
                    ('phone', 'city', 'country_id'), ('email', 'lang', 'tz'), ('phone', 'is_company', 'user_id'),
                    ('email', 'phone', 'title')],
    'account.invoice': [('name', 'reference', 'comment'), ('comment', 'origin', 'name'),
                        ('reference', 'origin', 'comment'), ('comment', 'date_invoice', 'state'),
                        ('reference', 'partner_id', 'amount_total'), ('comment', 'number', 'currency_id'),
                        ('reference', 'date_due', 'journal_id'), ('comment', 'user_id', 'type'),
                        ('reference', 'residual', 'sent'), ('comment', 'reference', 'account_id')],
}
OTHER = {'res.partner': 'account.invoice', 'account.invoice': 'res.partner'}
MODES = ('off', 'no match', '3 match', '10 match')
MATCHING = {'3 match': 3, '10 match': 10}  # active callbacks of the written model in these modes
FILTER_MODES = ('off', 'no filter', 'filter')
FILTER_FIELDS = ('email', 'phone', 'street')
FILTER = "[('name', '=like', 'Bench partner %')]"  # every partner the scenario writes on


def _no_capture_env(cr):
    """The superuser's environment with capture off (the addon is importable once Odoo loaded it)."""
    from odoo.addons.account_webhook.models.webhook_mixin import NO_TRIGGER, NO_TRIGGER_KEY
    return odoo.api.Environment(cr, odoo.SUPERUSER_ID, {NO_TRIGGER_KEY: NO_TRIGGER})


def setup_fixtures(registry, size):
    """Committed records to write on, and the callbacks of each mode (inactive until used)."""
    with registry.cursor() as cr:
        env = _no_capture_env(cr)
        env['webhook.callback'].with_context(active_test=False).search([('name', '=like', 'bench %')]).unlink()
        callbacks = {}
        for model, field_sets in FIELDS.items():
            for action in ('create', 'update'):
                callbacks[(model, action)] = [env['webhook.callback'].create({
                    'name': 'bench %s %s %d' % (model, action, i), 'model': model, 'action': action,
                    'field_names': list(fields), 'url': 'https://receiver.invalid/bench', 'active': False,
                }).id for i, fields in enumerate(field_sets)]
        callbacks['filter'] = [env['webhook.callback'].create({
            'name': 'bench res.partner update filter', 'model': 'res.partner', 'action': 'update',
            'field_names': list(FILTER_FIELDS), 'url': 'https://receiver.invalid/bench', 'active': False}).id]
        env['ir.config_parameter'].set_param('account_webhook.capture_disabled', '0')
        partners = env['res.partner'].search([('name', '=like', 'Bench partner %')], limit=size)
        for i in range(len(partners), size):
            partners |= env['res.partner'].create({'name': 'Bench partner %d' % i})
        invoices = env['account.invoice'].search([('name', '=like', 'Bench invoice %')], limit=size)
        if len(invoices) < size:
            receivable = env['account.account'].search(
                [('user_type_id', '=', env.ref('account.data_account_type_receivable').id)], limit=1)
            income = env['account.account'].search(
                [('user_type_id', '=', env.ref('account.data_account_type_revenue').id)], limit=1)
            customer = env['res.partner'].create({'name': 'Bench customer'})
            for i in range(len(invoices), size):
                invoices |= env['account.invoice'].create({
                    'name': 'Bench invoice %d' % i, 'partner_id': customer.id, 'account_id': receivable.id,
                    'invoice_line_ids': [(0, 0, {'name': 'Item', 'quantity': 1, 'price_unit': 10.0,
                                                 'account_id': income.id})]})
        cr.commit()
        return callbacks, partners.ids, invoices.ids


SCENARIOS = {'partner create': ('res.partner', 'create'), 'partner write': ('res.partner', 'update'),
             'invoice write': ('account.invoice', 'update'), 'partner write filter': ('res.partner', 'update')}
BACKFILL = 'backfill'


def modes_of(scenario):
    return FILTER_MODES if scenario.endswith(' filter') else MODES


def events_expected(mode, batch):
    return {'3 match': 3 * batch, '10 match': 10 * batch, 'no filter': batch, 'filter': batch}.get(mode, 0)


def set_mode(registry, callbacks, scenario, mode):
    """Commit which callbacks are active for this mode (`off` keeps the 3 matching ones active:
    the system parameter alone switches capture off, so every mode runs in the same context)."""
    model, action = SCENARIOS[scenario]
    if mode in FILTER_MODES[1:] or (mode == 'off' and scenario.endswith(' filter')):
        active = callbacks['filter']
    else:
        active = callbacks[(OTHER[model], action)][:3] if mode == 'no match' \
            else callbacks[(model, action)][:MATCHING.get(mode, 3)]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        all_ids = [i for ids in callbacks.values() for i in ids]
        env['webhook.callback'].with_context(active_test=False).browse(all_ids).write({'active': False})
        env['webhook.callback'].with_context(active_test=False).browse(active).write({'active': True})
        if active == callbacks['filter']:
            env['webhook.callback'].browse(active).write({'filter_domain': '[]' if mode == 'no filter' else FILTER})
        env['ir.config_parameter'].set_param('account_webhook.capture_disabled', '1' if mode == 'off' else '0')
        cr.commit()


def count_events(cr):
    """Deliveries, and those still to fan out of the captured events (one per callback of each)."""
    cr.execute('SELECT (SELECT count(*) FROM webhook_delivery) '
               '+ (SELECT COALESCE(sum(cardinality(callback_ids)), 0) FROM webhook_event)')
    return cr.fetchone()[0]


def sample(registry, scenario, batch, mode, counter, partner_ids, invoice_ids):
    """Seconds per record for one scenario/batch/mode, in a transaction rolled back after."""
    model, _action = SCENARIOS[scenario]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        ids = (partner_ids if model == 'res.partner' else invoice_ids)[:batch]
        records = env[model].browse(ids)
        records.mapped('name')  # the form has read the records before the user saves
        deliveries_before = count_events(cr)
        start = time.perf_counter()
        if scenario == 'partner create':
            for i in range(batch):
                env['res.partner'].create({'name': 'New %d' % i, 'email': 'n%d@example.com' % i, 'phone': '1'})
        elif scenario in ('partner write', 'partner write filter'):
            records.write({'email': 'w%d@example.com' % counter, 'phone': str(counter)})
        else:
            records.write({'comment': 'note %d' % counter, 'reference': 'REF%d' % counter})
        elapsed = time.perf_counter() - start
        events = count_events(cr) - deliveries_before
        cr.rollback()
    expected = events_expected(mode, batch)
    assert events == expected, '%s %s %s: %d events, expected %d' % (scenario, batch, mode, events, expected)
    return elapsed / batch


def bench_backfill(registry, size, batch_size):
    """Records enqueued per second by the backfill cron's body over ``size`` contacts."""
    with registry.cursor() as cr:
        env = _no_capture_env(cr)
        cr.execute("SELECT count(*) FROM res_partner WHERE name LIKE 'Bench backfill %%'")
        missing = size - cr.fetchone()[0]
        started = time.perf_counter()
        if missing > 0:  # one statement: the ORM would take minutes for 20,000 contacts
            cr.execute("""
                INSERT INTO res_partner (name, display_name, email, active, is_company, type, invoice_warn,
                                         customer, supplier, employee, create_uid, write_uid, create_date,
                                         write_date)
                SELECT 'Bench backfill ' || n, 'Bench backfill ' || n, 'b' || n || '@example.com', true, false,
                       'contact', 'no-message', true, false, false, 1, 1, now() at time zone 'UTC',
                       now() at time zone 'UTC'
                  FROM generate_series(1, %s) n""", (missing,))
        made = time.perf_counter() - started
        Callback = env['webhook.callback']
        Callback.with_context(active_test=False).search([('name', '=', 'bench backfill')]).unlink()
        # the contacts of this scenario only, the first `size` of them
        cr.execute("SELECT id FROM res_partner WHERE name LIKE 'Bench backfill %%' ORDER BY id OFFSET %s LIMIT 1",
                   (size - 1,))
        last_id = cr.fetchone()[0]
        callback = Callback.create({
            'name': 'bench backfill', 'model': 'res.partner', 'action': 'create', 'field_names': ['name', 'email'],
            'url': 'https://receiver.invalid/bench',
            'filter_domain': repr([('name', '=like', 'Bench backfill %'), ('id', '<=', last_id)])})
        cr.commit()
        try:
            started = time.perf_counter()
            callback.action_backfill(batch_size=batch_size)
            cr.commit()
            asked = time.perf_counter() - started
            started = time.perf_counter()
            # the batches run here and in the thread action_backfill started (SKIP LOCKED: they share
            # them): timed until the callback says done, whoever ran them
            queued = Callback._run_backfills(max_seconds=3600, commit=True)
            deadline = time.monotonic() + 600
            while True:
                cr.commit()  # a fresh snapshot
                callback.invalidate_cache()
                if callback.backfill_state != 'running' or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            assert (callback.backfill_state, callback.backfill_count) == ('done', size), \
                (callback.backfill_state, callback.backfill_count, queued)
        finally:
            cr.rollback()
            cr.execute('DELETE FROM webhook_delivery WHERE callback_id = %s', (callback.id,))
            callback.unlink()
            cr.commit()
    print('Backfill: %d contacts (%s), batches of %d: asked in %.3f s (counted %d); queued by the cron\'s body '
          'in %.2f s: %.0f records/s' % (size, 'made in %.1f s' % made if missing > 0 else 'already there',
                                         batch_size, asked, size, elapsed, size / elapsed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('database')
    parser.add_argument('--config', default=os.path.join(ROOT, 'var', 'odoo.conf'))
    parser.add_argument('--rounds', type=int, default=3, help='rounds for the large batches (x5 for batch 1)')
    parser.add_argument('--size', type=int, default=1000)
    parser.add_argument('--backfill-size', type=int, default=20000)
    parser.add_argument('--backfill-batch', type=int, default=500)
    parser.add_argument('--profile', action='store_true',
                        help='then profile the flush of a 1000-record partner write (3 and 10 callbacks)')
    parser.add_argument('--profile-lines', type=int, default=25)
    parser.add_argument('--scenarios', default=','.join(list(SCENARIOS) + [BACKFILL]),
                        help='comma-separated subset of: %s' % ', '.join(list(SCENARIOS) + [BACKFILL]))
    args = parser.parse_args()
    scenarios = [name.strip() for name in args.scenarios.split(',')]
    unknown = sorted(set(scenarios) - set(SCENARIOS) - {BACKFILL})
    if unknown:
        parser.error('unknown scenarios: %s' % ', '.join(unknown))
    odoo.tools.config.parse_config(['-c', args.config, '-d', args.database, '--log-level=warn'])
    # every mode switch logs "switched capture off/on" (an administrator's action): not the bench's news
    logging.getLogger('odoo.addons.account_webhook.models.ir_config_parameter').setLevel(logging.ERROR)
    registry = odoo.registry(args.database)
    results = []
    with odoo.api.Environment.manage():
        captures = [name for name in scenarios if name != BACKFILL]
        if captures:
            results = bench_captures(registry, args, captures)[0]
        if BACKFILL in scenarios:
            bench_backfill(registry, args.backfill_size, args.backfill_batch)
    report(results)
    if args.profile and captures:
        with odoo.api.Environment.manage():
            profile_flush(registry, args.size, args.profile_lines)


def report(results):
    """The targets' lines: worst ratios against `off` (plain scenarios), filter against no filter."""
    plain = [r for r in results if not r[0].endswith(' filter')]
    if plain:
        def worst(mode, batch_writes=False, single_writes=False):
            values = [r[2][mode] for r in plain if mode in r[2]
                      and (not batch_writes or (r[1] > 1 and 'write' in r[0]))
                      and (not single_writes or (r[1] == 1 and 'write' in r[0]))]
            return '%.3fx' % max(values) if values else 'n/a'
        print('worst "no match" ratio: %s (target <= 1.02x)' % worst('no match'))
        print('worst batch-write ratios: "3 match" %s (target <= 2.0x), "10 match" %s (target <= 3x); '
              'worst single-write "3 match" ratio: %s (target <= 1.10x)' % (
                  worst('3 match', batch_writes=True), worst('10 match', batch_writes=True),
                  worst('3 match', single_writes=True)))
    for scenario, batch, ratios in (r for r in results if r[0].endswith(' filter')):
        print('filter on %s, batch %d: %.3fx the same callback without a filter' % (
            scenario[:-7], batch, ratios['filter']))


def bench_captures(registry, args, scenarios):
    callbacks, partner_ids, invoice_ids = setup_fixtures(registry, args.size)
    print('Change capture overhead: median time per record over %d interleaved rounds (%d for 1000 creates), '
          'each sample rolled back (%s)' % (args.rounds * 5, args.rounds, args.database))
    results = []
    counter = 0
    header = None
    for scenario in scenarios:
        modes = modes_of(scenario)
        if header != modes:
            header = modes
            print(('%-20s %6s' + ' %12s' * len(modes) + ' %10s' * (len(modes) - 1)) % (
                ('scenario', 'batch') + tuple('%s ms' % mode for mode in modes) + modes[1:]))
        for batch in (1, args.size):
            # a batch of 1000 creates takes a minute: few rounds; everything else is quick
            rounds = args.rounds if (batch > 1 and scenario == 'partner create') else args.rounds * 5
            times = {mode: [] for mode in modes}
            for _round in range(rounds):
                for mode in modes:
                    set_mode(registry, callbacks, scenario, mode)
                    counter += 2  # an untimed warm-up sample first: caches as in steady use
                    sample(registry, scenario, min(batch, 20), mode, counter - 1, partner_ids, invoice_ids)
                    times[mode].append(sample(registry, scenario, batch, mode, counter,
                                              partner_ids, invoice_ids))
            median = {mode: statistics.median(values) for mode, values in times.items()}
            ratios = {mode: median[mode] / median['off'] for mode in modes[1:]}
            printed = [ratios[mode] for mode in modes[1:]]
            if modes == FILTER_MODES:  # what the filter adds to the same callback
                ratios['filter'] = printed[-1] = median['filter'] / median['no filter']
            results.append((scenario, batch, ratios))
            print(('%-20s %6d' + ' %12.3f' * len(modes) + ' %9.3fx' * len(printed)) % (
                (scenario, batch) + tuple(median[mode] * 1000 for mode in modes) + tuple(printed)))
            sys.stdout.flush()
    return results, callbacks, partner_ids


def profile_flush(registry, size, lines):
    """Where the time of one partner write of ``size`` records goes, with 3 and with 10 matching
    callbacks: the write without capture (`off`), the capture's snapshot (_webhook_touch) and flush
    (_webhook_flush) timed on their own, then a cProfile of the flush alone."""
    import cProfile
    import io
    import pstats
    from unittest import mock
    from odoo.addons.account_webhook.models.webhook_mixin import WebhookMixin
    callbacks, partner_ids, invoice_ids = setup_fixtures(registry, size)
    spent = {}
    profiler = [None]

    def timed(name, method):
        def wrapper(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                if name == 'flush' and profiler[0] is not None:
                    return profiler[0].runcall(method, self, *args, **kwargs)
                return method(self, *args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    counter = 10 ** 6
    for mode in ('3 match', '10 match'):
        times = {}
        for run_mode in ('off', mode):
            set_mode(registry, callbacks, 'partner write', run_mode)
            counter += 2
            sample(registry, 'partner write', 20, run_mode, counter - 1, partner_ids, invoice_ids)
            times[run_mode] = sample(registry, 'partner write', size, run_mode, counter, partner_ids, invoice_ids)
        spent.clear()
        with mock.patch.object(WebhookMixin, '_webhook_touch', timed('touch', WebhookMixin._webhook_touch)), \
                mock.patch.object(WebhookMixin, '_webhook_flush', timed('flush', WebhookMixin._webhook_flush)):
            counter += 1
            total = sample(registry, 'partner write', size, mode, counter, partner_ids, invoice_ids) * size
            timed_spent = dict(spent)
            spent.clear()
            profiler[0] = cProfile.Profile()
            counter += 1
            sample(registry, 'partner write', size, mode, counter, partner_ids, invoice_ids)
            stats, profiler[0] = profiler[0], None
        print()
        print('Partner write of %d records, %s: off %.0f ms, with capture %.0f ms (%.2fx; this run %.0f ms): '
              'snapshot %.0f ms, flush %.0f ms, the write itself %.0f ms' % (
                  size, mode, times['off'] * size * 1000, times[mode] * size * 1000, times[mode] / times['off'],
                  total * 1000, timed_spent.get('touch', 0) * 1000, timed_spent.get('flush', 0) * 1000,
                  (total - timed_spent.get('touch', 0) - timed_spent.get('flush', 0)) * 1000))
        out = io.StringIO()
        pstats.Stats(stats, stream=out).sort_stats('cumulative').print_stats(lines)
        text = out.getvalue()
        print('Profile of the flush (cProfile, which slows it down; sorted by cumulative time):')
        print(text[text.index('   ncalls'):].rstrip() if '   ncalls' in text else text.rstrip())
    set_mode(registry, callbacks, 'partner write', 'off')
    with registry.cursor() as cr:
        odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})['ir.config_parameter'].set_param(
            'account_webhook.capture_disabled', '0')
        cr.commit()


if __name__ == '__main__':
    main()
