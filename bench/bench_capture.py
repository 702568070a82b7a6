"""What change capture costs the accountant's write path, measured side by side.

For partner create, partner write and invoice write, in batches of 1 and 1000, time per
record in three modes, interleaved in one run on the same database:
  off        the addon's triggers switched off (system parameter account_webhook.capture_disabled)
  no match   triggers on, callbacks exist but none for this model
  3 match    triggers on, 3 active callbacks on this model tracking 3 fields each (events written)
Each sample runs in its own transaction, rolled back afterwards. Ratios are medians against `off`.
Targets (issue 4): no match <= 1.02x; 3 match <= 1.25x for batch writes.

`partner write filter`: the cost of a callback's filter, one callback (3 fields) on partner
writes with no filter beside the same callback with a filter every written partner matches
(events written in both), interleaved with `off` the same way; the ratio that matters is
filter / no filter.

`backfill`: the rate of a callback's backfill (webhook.callback._run_backfills, the body of the
backfill cron, committing each batch), over --backfill-size contacts (20,000; made once with
one SQL statement), in records enqueued per second. Its events are deleted afterwards.

Usage: python bench/bench_capture.py DB [--rounds N] [--scenarios a,b] [--backfill-size N]
"""
import argparse
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

FIELDS = {
    'res.partner': [('email', 'phone', 'street'), ('email', 'city', 'zip'), ('phone', 'website', 'comment')],
    'account.invoice': [('name', 'reference', 'comment'), ('comment', 'origin', 'name'),
                        ('reference', 'origin', 'comment')],
}
OTHER = {'res.partner': 'account.invoice', 'account.invoice': 'res.partner'}
MODES = ('off', 'no match', '3 match')
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
    return {'3 match': 3 * batch, 'no filter': batch, 'filter': batch}.get(mode, 0)


def set_mode(registry, callbacks, scenario, mode):
    """Commit which callbacks are active for this mode (`off` keeps the 3 matching ones active:
    the system parameter alone switches capture off, so every mode runs in the same context)."""
    model, action = SCENARIOS[scenario]
    if mode in FILTER_MODES[1:] or (mode == 'off' and scenario.endswith(' filter')):
        active = callbacks['filter']
    else:
        active = callbacks[(OTHER[model], action)] if mode == 'no match' else callbacks[(model, action)]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        all_ids = [i for ids in callbacks.values() for i in ids]
        env['webhook.callback'].with_context(active_test=False).browse(all_ids).write({'active': False})
        env['webhook.callback'].with_context(active_test=False).browse(active).write({'active': True})
        if active == callbacks['filter']:
            env['webhook.callback'].browse(active).write({'filter_domain': '[]' if mode == 'no filter' else FILTER})
        env['ir.config_parameter'].set_param('account_webhook.capture_disabled', '1' if mode == 'off' else '0')
        cr.commit()


def sample(registry, scenario, batch, mode, counter, partner_ids, invoice_ids):
    """Seconds per record for one scenario/batch/mode, in a transaction rolled back after."""
    model, _action = SCENARIOS[scenario]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        ids = (partner_ids if model == 'res.partner' else invoice_ids)[:batch]
        records = env[model].browse(ids)
        records.mapped('name')  # the form has read the records before the user saves
        cr.execute('SELECT count(*) FROM webhook_delivery')
        deliveries_before = cr.fetchone()[0]
        start = time.perf_counter()
        if scenario == 'partner create':
            for i in range(batch):
                env['res.partner'].create({'name': 'New %d' % i, 'email': 'n%d@example.com' % i, 'phone': '1'})
        elif scenario in ('partner write', 'partner write filter'):
            records.write({'email': 'w%d@example.com' % counter, 'phone': str(counter)})
        else:
            records.write({'comment': 'note %d' % counter, 'reference': 'REF%d' % counter})
        elapsed = time.perf_counter() - start
        cr.execute('SELECT count(*) FROM webhook_delivery')
        events = cr.fetchone()[0] - deliveries_before
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
            queued = Callback._run_backfills(max_seconds=3600, commit=True)
            elapsed = time.perf_counter() - started
            callback.invalidate_cache()
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
    parser.add_argument('--scenarios', default=','.join(list(SCENARIOS) + [BACKFILL]),
                        help='comma-separated subset of: %s' % ', '.join(list(SCENARIOS) + [BACKFILL]))
    args = parser.parse_args()
    scenarios = [name.strip() for name in args.scenarios.split(',')]
    unknown = sorted(set(scenarios) - set(SCENARIOS) - {BACKFILL})
    if unknown:
        parser.error('unknown scenarios: %s' % ', '.join(unknown))
    odoo.tools.config.parse_config(['-c', args.config, '-d', args.database, '--log-level=warn'])
    registry = odoo.registry(args.database)
    results = []
    with odoo.api.Environment.manage():
        captures = [name for name in scenarios if name != BACKFILL]
        if captures:
            results = bench_captures(registry, args, captures)
        if BACKFILL in scenarios:
            bench_backfill(registry, args.backfill_size, args.backfill_batch)
    plain = [r for r in results if not r[0].endswith(' filter')]
    if plain:
        worst_no_match = max(r[2] for r in plain)
        batch_writes = [r[3] for r in plain if r[1] > 1 and 'write' in r[0]]
        print('worst "no match" ratio: %.3fx (target <= 1.02x); worst "3 match" batch-write ratio: %s '
              '(target <= 1.25x)' % (worst_no_match, '%.3fx' % max(batch_writes) if batch_writes else 'n/a'))
    for scenario, batch, _off, ratio in (r for r in results if r[0].endswith(' filter')):
        print('filter on %s, batch %d: %.3fx the same callback without a filter' % (scenario[:-7], batch, ratio))


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
            print('%-20s %6s %12s %12s %12s %10s %10s' % (
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
            ratios = (median[modes[1]] / median['off'], median[modes[2]] / median['off'])
            if modes == FILTER_MODES:  # what the filter adds to the same callback
                results.append((scenario, batch, ratios[0], median['filter'] / median['no filter']))
            else:
                results.append((scenario, batch) + ratios)
            print('%-20s %6d %12.3f %12.3f %12.3f %9.3fx %9.3fx' % (
                scenario, batch, median['off'] * 1000, median[modes[1]] * 1000, median[modes[2]] * 1000,
                ratios[0], ratios[1]))
            sys.stdout.flush()
    return results


if __name__ == '__main__':
    main()
