# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Upgrade time with a full outbox.

A database of an earlier release (the first by default), a callback created through the ORM,
then N pending deliveries written by SQL (generate_series; bodies as capture writes them for a
contact update), then `scripts/odoo -u account_webhook --stop-after-init` with the working tree's
addon, timed, with the peak RSS of that process. Then checks that the deliveries survived (count
and a checksum of event ids and payloads). For scale, the same upgrade of the same release with an
empty outbox is timed first. The databases (copies of scripts/setup.sh's cached template) are
dropped at the end.

Usage: python bench/bench_upgrade.py [--deliveries N] [--release first|previous|COMMIT] [--keep]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import odoo_compat  # noqa: E402

odoo_compat.install()
import odoo  # noqa: E402,F401 (tests.test_upgrade reads the installed version form through it)

odoo_compat.patch_odoo()

from tests.test_upgrade import (  # noqa: E402
    ADDON, CONFIG, LAUNCHER, UPGRADE_SOURCES, create_from_template, drop_database, installed_form, manifest,
    odoo_cli, odoo_script, release_config, sql, tail)

CALLBACK = """
with odoo.api.Environment.manage(), odoo.registry(DB).cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    env['webhook.callback'].create({'name': 'CRM', 'model': 'res.partner', 'action': 'update',
                                    'field_names': ['name', 'email', 'phone', 'city', 'vat'],
                                    'url': 'https://crm.example.com/odoo/hooks'})
"""

# One contact update per row: the body capture writes (keys in its order, ', '/': ' separators,
# UTF-8), about 330 bytes; distinct records; created over the last N seconds.
FILL = """
INSERT INTO webhook_delivery (callback_id, event_id, res_model, res_id, operation, payload, state,
                              attempt_count, next_attempt_at, create_uid, create_date, write_uid, write_date)
SELECT c.id, e.event_id, 'res.partner', 1000 + i, 'update',
       '{"object": "res.partner", "operation": "update", "id": ' || (1000 + i)
       || ', "values": {"name": "Kontaktas ' || i || ' – Žemaitė", "email": "contact' || i
       || '@example.com", "phone": "+370 600 ' || lpad(mod(i, 100000)::text, 5, '0')
       || '", "city": "Kaunas", "vat": "LT' || lpad(i::text, 9, '0') || '"}, "changed": ["email", "phone"], '
       || '"event_id": "' || e.event_id || '", "timestamp": "' || to_char(t.at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '"}',
       'pending', 0, t.at, 1, t.at, 1, t.at
  FROM (SELECT id FROM webhook_callback ORDER BY id LIMIT 1) c,
       generate_series(1, %(n)s) i,
       LATERAL (SELECT md5(i::text || random()::text)::uuid::text AS event_id) e,
       LATERAL (SELECT (now() at time zone 'UTC') - interval '1 second' * (%(n)s - i) AS at) t
"""
CHECKSUM = "SELECT count(*), md5(string_agg(event_id || payload || state, '' ORDER BY id)) FROM webhook_delivery"


def timed_upgrade(db, log):
    """``-u`` with the working tree's addon: (seconds, peak RSS in MB) of that process."""
    cmd = [sys.executable, LAUNCHER, '-c', CONFIG, '-d', db, '--log-level=warn', '--stop-after-init', '-u', ADDON]
    started = time.time()
    with open(log, 'ab') as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if process.returncode is None:
            os.killpg(process.pid, 9)
            process.wait()
    seconds = time.time() - started
    if process.returncode != 0:
        sys.exit('the upgrade failed (exit %s); end of %s:\n%s' % (process.returncode, log, tail(log)))
    return seconds, usage.ru_maxrss / 1024.0


def release(choice):
    sources = {label: (version, commit) for label, version, commit in UPGRADE_SOURCES}
    for label, source in sources.items():
        if choice in label.split('+'):
            return source
    if choice in ('first', 'previous'):
        sys.exit('no earlier release found in the history of the manifest')
    return manifest(choice)['version'], choice


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--deliveries', type=int, default=100000)
    parser.add_argument('--release', default='first', help='first, previous or a commit (default: first)')
    parser.add_argument('--keep', action='store_true', help='keep the databases')
    args = parser.parse_args()
    version, commit = release(args.release)
    target = manifest()['version']
    workdir = tempfile.mkdtemp(prefix='bench-upgrade-')
    log = os.path.join(workdir, 'odoo.log')
    config = release_config(commit, workdir)
    made = []
    try:
        results = {}
        for label, count in (('empty', 0), ('full', args.deliveries)):
            db = 'awh_bench_upgrade_%s' % label
            drop_database(db)
            made.append(db)
            create_from_template(db)
            odoo_cli(config, db, ['-i', ADDON, '--without-demo=all'], log)
            odoo_script(config, db, CALLBACK, log)
            started = time.time()
            if count:
                sql(db, FILL % {'n': int(count)})
                sql(db, 'VACUUM ANALYZE webhook_delivery')
            filled = time.time() - started
            before = tuple(sql(db, CHECKSUM)[0])
            assert before[0] == count, before
            seconds, rss = timed_upgrade(db, log)
            after = tuple(sql(db, CHECKSUM)[0])
            module = tuple(sql(db, 'SELECT state, latest_version FROM ir_module_module WHERE name = %s', (ADDON,))[0])
            ok = after == before and module == ('installed', installed_form(target))
            results[label] = (count, seconds, rss)
            print('%-6s %7d pending deliveries%s: upgrade %s (%s) -> %s in %.1f s, peak RSS %.0f MB; %s' % (
                label, count, ' (written by SQL in %.1f s)' % filled if count else '', version, commit[:10],
                target, seconds, rss, 'deliveries and payloads unchanged, version %s' % module[1] if ok
                else 'CHANGED: before %s, after %s, module %s' % (before, after, module)))
            if not ok:
                sys.exit(1)
        print('the outbox of %d deliveries changes the upgrade time by %+.1f s' % (
            results['full'][0], results['full'][1] - results['empty'][1]))
    finally:
        if not args.keep:
            for db in made:
                drop_database(db)
        print('log: %s' % log)


if __name__ == '__main__':
    main()
