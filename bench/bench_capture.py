"""What change capture costs the accountant's write path, measured side by side.

For partner create, partner write and invoice write, in batches of 1 and 1000, time per
record in three modes, interleaved in one run on the same database:
  off        the addon's triggers switched off (system parameter account_webhook.capture_disabled)
  no match   triggers on, callbacks exist but none for this model
  3 match    triggers on, 3 active callbacks on this model tracking 3 fields each (events written)
Each sample runs in its own transaction, rolled back afterwards. Ratios are medians against `off`.
Targets (issue 4): no match <= 1.02x; 3 match <= 1.25x for batch writes.

Usage: python bench/bench_capture.py DB [--rounds N]
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


def setup_fixtures(registry, size):
    """Committed records to write on, and the callbacks of each mode (inactive until used)."""
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {'account_webhook_no_trigger': True})
        env['webhook.callback'].with_context(active_test=False).search([('name', '=like', 'bench %')]).unlink()
        callbacks = {}
        for model, field_sets in FIELDS.items():
            for action in ('create', 'update'):
                callbacks[(model, action)] = [env['webhook.callback'].create({
                    'name': 'bench %s %s %d' % (model, action, i), 'model': model, 'action': action,
                    'field_names': list(fields), 'url': 'https://receiver.invalid/bench', 'active': False,
                }).id for i, fields in enumerate(field_sets)]
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
             'invoice write': ('account.invoice', 'update')}


def set_mode(registry, callbacks, scenario, mode):
    """Commit which callbacks are active for this mode (`off` keeps the 3 matching ones active:
    the system parameter alone switches capture off, so every mode runs in the same context)."""
    model, action = SCENARIOS[scenario]
    active = callbacks[(OTHER[model], action)] if mode == 'no match' else callbacks[(model, action)]
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        all_ids = [i for ids in callbacks.values() for i in ids]
        env['webhook.callback'].with_context(active_test=False).browse(all_ids).write({'active': False})
        env['webhook.callback'].with_context(active_test=False).browse(active).write({'active': True})
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
        elif scenario == 'partner write':
            records.write({'email': 'w%d@example.com' % counter, 'phone': str(counter)})
        else:
            records.write({'comment': 'note %d' % counter, 'reference': 'REF%d' % counter})
        elapsed = time.perf_counter() - start
        cr.execute('SELECT count(*) FROM webhook_delivery')
        events = cr.fetchone()[0] - deliveries_before
        cr.rollback()
    expected = 3 * batch if mode == '3 match' else 0
    assert events == expected, '%s %s %s: %d events, expected %d' % (scenario, batch, mode, events, expected)
    return elapsed / batch


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('database')
    parser.add_argument('--config', default=os.path.join(ROOT, 'var', 'odoo.conf'))
    parser.add_argument('--rounds', type=int, default=3, help='rounds for the large batches (x5 for batch 1)')
    parser.add_argument('--size', type=int, default=1000)
    parser.add_argument('--scenarios', default=','.join(SCENARIOS),
                        help='comma-separated subset of: %s' % ', '.join(SCENARIOS))
    args = parser.parse_args()
    odoo.tools.config.parse_config(['-c', args.config, '-d', args.database, '--log-level=warn'])
    registry = odoo.registry(args.database)
    with odoo.api.Environment.manage():
        callbacks, partner_ids, invoice_ids = setup_fixtures(registry, args.size)
        print('Change capture overhead: median time per record over %d interleaved rounds (%d for 1000 creates), '
              'each sample rolled back (%s)' % (args.rounds * 5, args.rounds, args.database))
        print('%-16s %6s %12s %12s %12s %10s %10s' % ('scenario', 'batch', 'off ms', 'no match ms', '3 match ms',
                                                     'no match', '3 match'))
        results = []
        counter = 0
        for scenario in [name.strip() for name in args.scenarios.split(',')]:
            for batch in (1, args.size):
                # a batch of 1000 creates takes a minute: few rounds; everything else is quick
                rounds = args.rounds if (batch > 1 and scenario == 'partner create') else args.rounds * 5
                times = {mode: [] for mode in MODES}
                for _round in range(rounds):
                    for mode in MODES:
                        set_mode(registry, callbacks, scenario, mode)
                        counter += 2  # an untimed warm-up sample first: caches as in steady use
                        sample(registry, scenario, min(batch, 20), mode, counter - 1, partner_ids, invoice_ids)
                        times[mode].append(sample(registry, scenario, batch, mode, counter,
                                                  partner_ids, invoice_ids))
                median = {mode: statistics.median(values) for mode, values in times.items()}
                ratios = (median['no match'] / median['off'], median['3 match'] / median['off'])
                results.append((scenario, batch) + ratios)
                print('%-16s %6d %12.3f %12.3f %12.3f %9.3fx %9.3fx' % (
                    scenario, batch, median['off'] * 1000, median['no match'] * 1000, median['3 match'] * 1000,
                    ratios[0], ratios[1]))
                sys.stdout.flush()
    worst_no_match = max(r[2] for r in results)
    worst_batch_write = max(r[3] for r in results if r[1] > 1 and 'write' in r[0])
    print('worst "no match" ratio: %.3fx (target <= 1.02x); worst "3 match" batch-write ratio: %.3fx '
          '(target <= 1.25x)' % (worst_no_match, worst_batch_write))


if __name__ == '__main__':
    main()
