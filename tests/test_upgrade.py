# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The addon's life in a database: upgrading from earlier releases, an upgrade killed half-way,
uninstalling and reinstalling.

Each test makes databases of its own, copies of the template scripts/setup.sh caches (Odoo with
the Invoicing app and a chart of accounts, no addon, no demo data), runs Odoo in subprocesses
with this checkout's launcher, and drops the databases at the end. An earlier release is the
addon as it was in a commit of this repository (``git archive``), served from a temporary
addons path in its place.
"""
import ast
import base64
import collections
import configparser
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from .conftest import ROOT, free_port
from .pgtools import CONFIG, base_template, connect, copy_database, drop_database, sql

ADDON = 'account_webhook'
LAUNCHER = os.path.join(ROOT, 'scripts', 'odoo')
MANIFEST = ADDON + '/__manifest__.py'
# Releases published before the project tagged them: the last commit carrying such a version is not
# the release (work towards the next one went on under the same version). A tag named after a
# version (11.0.2.0.0, v11.0.2.0.0 or account_webhook-11.0.2.0.0) takes precedence over both.
RELEASED = {'11.0.1.0.0': 'f3188251c1676705092d8d4fcbd9cf50641c676d',
            '11.0.3.0.0': '12c5ede84354d4bb23bc67b7a4aae5ef94fdeb82',
            '11.0.4.0.0': 'a862c3d63a8e02c6798aaefa30b79b23fc95c797',
            '11.0.5.0.0': '29bf7be1f08e6dd2773e9b5053ed1125991448d2',
            '11.0.6.0.0': '2cad6dbd67367bed8fb69e9b5cbf72426e0c5b1c'}
# Columns an upgrade may rewrite (a migration filling a new column touches the row); all others of
# the earlier release must keep their values.
REWRITABLE = ('write_date', 'write_uid')
# (webhook_event, from 11.0.6.0.0: the changes captured and not fanned out into deliveries yet)
SNAPSHOT_TABLES = ('webhook_callback', 'webhook_callback_field_rel', 'webhook_delivery',
                   'webhook_delivery_attempt', 'webhook_event')


# -- PostgreSQL and databases ----------------------------------------------------------------------

def template_db():
    template = base_template()
    assert template, 'no template database awh_base_*: run scripts/setup.sh test (make test does)'
    return template


def create_from_template(db):
    copy_database(db, template_db())


def mark_as_demo_database(db):
    """Make Odoo treat ``db`` as a database with demo data: ``ir_module_module.demo`` of the installed
    modules is what it reads to give an addon installed or updated there its demo data. (This
    addon's demo file needs none of the base modules' demo records, whose loading takes half a
    minute.)"""
    sql(db, "UPDATE ir_module_module SET demo = true WHERE state = 'installed'")


@pytest.fixture
def databases():
    """``new(label, demo=False)``: a copy of the template, dropped at the end of the test."""
    made = []

    def new(label, demo=False):
        name = 'awh_%s_%d_%d' % (label, os.getpid(), len(made))
        drop_database(name)
        made.append(name)
        create_from_template(name)
        if demo:
            mark_as_demo_database(name)
        return name
    yield new
    for name in made:
        drop_database(name)


# -- processes -------------------------------------------------------------------------------------

def start(cmd, log_path, **kwargs):
    """A process in a group of its own (stopped with ``stop``), its output appended to ``log_path``."""
    with open(log_path, 'ab') as log:
        return subprocess.Popen(cmd, stdout=kwargs.pop('stdout', log), stderr=subprocess.STDOUT,
                                start_new_session=True, **kwargs)


def stop(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(30)


def tail(path, lines=40):
    with open(path, 'rb') as log:
        return b''.join(log.readlines()[-lines:]).decode('utf-8', 'replace')


def run(cmd, log_path, timeout):
    process = start(cmd, log_path)
    try:
        return process.wait(timeout)
    finally:
        stop(process)


def odoo_cli(config, db, args, log_path, timeout=300):
    """``scripts/odoo -c config -d db args --stop-after-init``, as an administrator runs it."""
    cmd = [sys.executable, LAUNCHER, '-c', config, '-d', db, '--log-level=warn', '--stop-after-init'] + list(args)
    started = time.time()
    returncode = run(cmd, log_path, timeout)
    assert returncode == 0, 'odoo %s failed (exit %s); end of %s:\n%s' % (
        ' '.join(args), returncode, log_path, tail(log_path))
    return time.time() - started


SCRIPT = """
import json, sys, time
sys.path.insert(0, %(root)r)
import odoo_compat
odoo_compat.install()
import odoo
odoo_compat.patch_odoo()
odoo.tools.config.parse_config(['-c', %(config)r, '-d', %(db)r, '--log-level=warn'])
DB, ARGS = %(db)r, json.loads(%(args)r)
"""


def script(config, db, body, **args):
    """Python code run as an `odoo shell` would: this checkout's compat layer, then Odoo with ``config``."""
    return SCRIPT % {'root': ROOT, 'config': config, 'db': db, 'args': json.dumps(args)} + body


def odoo_script(config, db, body, log_path, timeout=180, **args):
    returncode = run([sys.executable, '-c', script(config, db, body, **args)], log_path, timeout)
    assert returncode == 0, 'script failed (exit %s); end of %s:\n%s' % (returncode, log_path, tail(log_path))


# -- releases --------------------------------------------------------------------------------------

def git(*args, **kwargs):
    return subprocess.run(['git'] + list(args), cwd=ROOT, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60, **kwargs).stdout


def version_key(version):
    return tuple(int(part) for part in version.split('.'))


def manifest(commit=None):
    if commit is None:
        with open(os.path.join(ROOT, MANIFEST)) as source:
            return ast.literal_eval(source.read())
    return ast.literal_eval(git('show', '%s:%s' % (commit, MANIFEST)).decode('utf-8'))


def installed_form(version):
    """The version as ``ir_module_module.latest_version`` holds it (Odoo prefixes the series)."""
    import odoo
    return odoo.modules.module.adapt_version(version)


def releases():
    """``{version: commit}`` for each version the manifest had on the first-parent history of HEAD:
    a tag named after it, else ``RELEASED``, else the last commit that had it (the parent of the
    commit that changed it; HEAD for HEAD's version)."""
    found, newer, boundary = {}, None, None
    for commit in git('rev-list', '--first-parent', 'HEAD', '--', MANIFEST).decode().split():
        version = manifest(commit)['version']
        if version != newer and version not in found:
            found[version] = git('rev-parse', (boundary + '^') if boundary else 'HEAD').decode().strip()
        newer, boundary = version, commit
    for version in found:
        for tag in (version, 'v' + version, ADDON + '-' + version):
            tagged = subprocess.run(['git', 'rev-parse', '-q', '--verify', 'refs/tags/%s^{commit}' % tag], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
            if tagged.returncode == 0:
                found[version] = tagged.stdout.decode().strip()
                break
        else:
            found[version] = RELEASED.get(version, found[version])
    return found


def upgrade_sources():
    """``[(label, version, commit)]``: the first release and the previous one (the newest below the
    working tree's version; while the working tree has not changed the version, its own release)."""
    try:
        known = releases()
    except (OSError, subprocess.SubprocessError):  # no git history (an exported tree)
        return []
    current = version_key(manifest()['version'])
    older = sorted((v for v in known if version_key(v) < current), key=version_key) \
        or [v for v in known if version_key(v) == current]
    if not older:
        return []
    first, previous = older[0], older[-1]
    if first == previous:
        return [('first+previous', first, known[first])]
    return [('first', first, known[first]), ('previous', previous, known[previous])]


UPGRADE_SOURCES = upgrade_sources()


def previous_release():
    assert UPGRADE_SOURCES, 'no earlier release found in the history of %s' % MANIFEST
    return UPGRADE_SOURCES[-1][1:]


def release_config(commit, workdir):
    """An odoo.conf like var/odoo.conf whose addons path serves the addon of ``commit`` instead of
    the working tree's."""
    addons = os.path.join(str(workdir), 'addons-%s' % commit[:10])
    if not os.path.isdir(addons):
        os.makedirs(addons)
        subprocess.run(['tar', '-x', '-C', addons], input=git('archive', commit, ADDON), check=True, timeout=60)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CONFIG)
    paths = [path.strip() for path in parser['options']['addons_path'].split(',')]
    root = os.path.realpath(ROOT)
    assert root in [os.path.realpath(path) for path in paths], 'var/odoo.conf does not serve %s' % ROOT
    parser['options']['addons_path'] = ','.join(addons if os.path.realpath(path) == root else path
                                                 for path in paths)
    config = os.path.join(str(workdir), 'odoo-%s.conf' % commit[:10])
    with open(config, 'w') as out:
        parser.write(out)
    return config


# -- receivers -------------------------------------------------------------------------------------

class Sink(object):
    """A receiver on 127.0.0.1, on a given port (where one was down before) or a free one: records
    each POST; answers as queued with ``answer(status, hold)`` (``hold``: seconds before answering,
    cut short by ``close``), then 200."""

    def __init__(self, port=0):
        self.received = []
        self._answers = []
        self._arrived = threading.Condition()
        self._released = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with sink._arrived:
                    sink.received.append((time.time(), self.path, headers, body))
                    status, hold = sink._answers.pop(0) if sink._answers else (200, 0)
                    sink._arrived.notify_all()
                if hold:
                    sink._released.wait(hold)
                self.send_response(status)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a held request whose sender was killed

        self.server = Server(('127.0.0.1', port), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, status, hold=0):
        with self._arrived:
            self._answers.append((status, hold))

    def wait_for(self, count, timeout):
        deadline = time.time() + timeout
        with self._arrived:
            while len(self.received) < count and time.time() < deadline:
                self._arrived.wait(max(0.01, deadline - time.time()))
            return len(self.received) >= count

    def reset(self):
        with self._arrived:
            del self.received[:]
            del self._answers[:]

    def close(self):
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sinks():
    """``new(port=0)``: a Sink, closed at the end of the test."""
    made = []

    def new(port=0):
        made.append(Sink(port))
        return made[-1]
    yield new
    for sink in made:
        sink.close()


def signature_ok(key, headers, body):
    """Standard Webhooks, as README.md tells receivers to check it."""
    signed = ('%s.%s.' % (headers['webhook-id'], headers['webhook-timestamp'])).encode() + body
    expected = base64.b64encode(hmac.new(base64.b64decode(key), signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s.split(',', 1)[1])
               for s in headers['webhook-signature'].split() if s.startswith('v1,'))


# -- data made the way users make it, on the earlier release ----------------------------------------

# Callbacks created through the ORM; contacts and an invoice changed so that capture writes the
# deliveries; sent by the release's own dispatch to a receiver that is down (DOWN: connection
# refused) or up (UP, the test's Sink). Leaves, committed:
#   failed    the first contact's creation: refused twice with a one-retry schedule
#   done      the first contact's e-mail change: 500, then 200
#   retrying  the first contact's name change: refused once, next attempt 16-24 s later
#   pending   the next name change, waiting behind it (same record and URL); two contacts created;
#             a phone change to UP
#   sending   the invoice's creation (by POPULATE_SENDING: a dispatcher killed mid-request)
POPULATE = """
registry = odoo.registry(DB)
with odoo.api.Environment.manage(), registry.cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    Params, Callback, Partner = env['ir.config_parameter'], env['webhook.callback'], env['res.partner']

    def dispatch():
        cr.commit()
        env['webhook.delivery']._dispatch_due()
        cr.commit()  # a fresh snapshot: the dispatch committed on cursors of its own

    def states(callback):
        cr.execute('SELECT state, attempt_count FROM webhook_delivery WHERE callback_id = %s ORDER BY id',
                   (callback.id,))
        return cr.fetchall()

    Params.set_param('account_webhook.allowed_targets', '127.0.0.1')
    Params.set_param('account_webhook.retry_schedule', '1')
    contacts = Callback.create({'name': 'Contacts created', 'model': 'res.partner', 'action': 'create',
                                'field_names': ['name', 'email', 'phone', 'city'], 'url': ARGS['down'] + '/contacts'})
    mirror = Callback.create({'name': 'Contact details to the CRM', 'model': 'res.partner', 'action': 'update',
                              'field_names': ['email', 'phone'], 'url': ARGS['up'] + '/mirror'})
    names = Callback.create({'name': 'Contact names', 'model': 'res.partner', 'action': 'update',
                             'field_names': ['name'], 'url': ARGS['down'] + '/names'})
    retired = Callback.create({'name': 'Old ERP', 'model': 'res.partner', 'action': 'delete',
                               'field_names': ['name'], 'url': 'https://erp.example.com/hooks'})
    retired.write({'active': False})
    cr.commit()
    ona = Partner.create({'name': 'Ona Žemaitė', 'email': 'ona@example.com', 'phone': '+370 600 00001',
                          'city': 'Kaunas'})
    cr.commit()
    ona.write({'email': 'ona.zemaite@example.com'})
    dispatch()
    deadline = time.time() + 30
    while states(contacts) != [('failed', 2)] or states(mirror) != [('done', 2)]:
        assert time.time() < deadline, (states(contacts), states(mirror))
        time.sleep(0.3)
        dispatch()

    Params.set_param('account_webhook.retry_schedule', '20')
    ona.write({'name': 'Ona Žemaitė-Petrauskienė'})
    dispatch()
    assert states(names) == [('pending', 1)], states(names)
    ona.write({'name': 'Ona Petrauskienė „Ąžuolė“'})
    cr.commit()

    Params.set_param('account_webhook.lease_seconds', '3')
    Callback.create({'name': 'Invoices created', 'model': 'account.invoice', 'action': 'create',
                     'field_names': ['partner_id', 'state', 'invoice_line_ids', 'amount_total'],
                     'url': ARGS['up'] + '/invoices', 'rate_limit': 100})
    revenue = env['account.account'].search(
        [('user_type_id', '=', env.ref('account.data_account_type_revenue').id)], limit=1)
    env['account.invoice'].create({'partner_id': ona.id, 'invoice_line_ids': [(0, 0, {
        'name': 'Konsultacija – 1,5 val.', 'quantity': 1.5, 'price_unit': 120.0, 'account_id': revenue.id})]})
    cr.commit()
"""

# One dispatch run; the test kills it while the receiver holds its request.
DISPATCH = """
with odoo.api.Environment.manage(), odoo.registry(DB).cursor() as cr:
    model = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})['webhook.delivery']
model._dispatch_due()
"""

POPULATE_AFTER = """
with odoo.api.Environment.manage(), odoo.registry(DB).cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    env['res.partner'].create({'name': 'Jonas Jonaitis', 'email': 'jonas@example.com', 'city': 'Vilnius'})
    cr.commit()
    zydrune = env['res.partner'].create({'name': 'Žydrūnė Ūsaitė', 'phone': '+370 600 00003'})
    cr.commit()
    zydrune.write({'phone': '+370 600 00004'})
    cr.commit()
"""


def release_database(databases, commit, workdir, up, down_port, label='upg'):
    """A database of the release ``commit`` (no demo data) with callbacks and deliveries in every state."""
    db = databases(label)
    config = release_config(commit, workdir)
    log = os.path.join(str(workdir), 'release.log')
    odoo_cli(config, db, ['-i', ADDON, '--without-demo=all'], log)
    up.answer(500)
    odoo_script(config, db, POPULATE, log, up=up.url, down='http://127.0.0.1:%d' % down_port)
    # a dispatcher killed while the receiver holds its request: the invoice's delivery stays `sending`
    seen = len(up.received)
    up.answer(200, hold=60)
    worker = start([sys.executable, '-c', script(config, db, DISPATCH)], log)
    try:
        assert up.wait_for(seen + 1, timeout=60), 'the dispatcher never sent; see %s' % log
    finally:
        stop(worker)
    odoo_script(config, db, POPULATE_AFTER, log)
    up.reset()
    return db


# -- what a database holds ---------------------------------------------------------------------------

def snapshot(db):
    """The addon's rows (every column), its system parameters, its module row, the time now (UTC)."""
    conn = connect(db)
    try:
        with conn.cursor() as cur:
            tables = {}
            for table in SNAPSHOT_TABLES:
                cur.execute("""SELECT column_name FROM information_schema.columns
                                WHERE table_schema = current_schema() AND table_name = %s
                                ORDER BY ordinal_position""", (table,))
                columns = [row[0] for row in cur.fetchall()]
                if not columns:
                    tables[table] = None
                    continue
                cur.execute('SELECT %s FROM "%s" ORDER BY %s' % (
                    ', '.join('"%s"' % c for c in columns), table, 'id' if 'id' in columns else '1, 2'))
                tables[table] = {'columns': columns, 'rows': [dict(zip(columns, row)) for row in cur.fetchall()]}
            cur.execute(r"SELECT key, value FROM ir_config_parameter WHERE key LIKE 'account\_webhook.%'")
            params = dict(cur.fetchall())
            cur.execute('SELECT state, latest_version FROM ir_module_module WHERE name = %s', (ADDON,))
            module = cur.fetchone()
            cur.execute("SELECT now() at time zone 'UTC'")
            now = cur.fetchone()[0]
    finally:
        conn.close()
    return {'tables': tables, 'params': params, 'module': module, 'now': now}


def kind_of(delivery, now):
    if delivery['state'] == 'pending':
        if not delivery['attempt_count']:
            return 'pending'
        return 'retrying' if delivery['next_attempt_at'] > now else 'pending, retry due'
    if delivery['state'] == 'sending':
        return 'sending' if delivery['lease_until'] else 'sending without a lease'
    return delivery['state']


def assert_every_state(snap):
    deliveries = snap['tables']['webhook_delivery']['rows']
    kinds = collections.Counter(kind_of(d, snap['now']) for d in deliveries)
    assert set(kinds) == {'pending', 'retrying', 'sending', 'failed', 'done'}, kinds
    attempts = snap['tables']['webhook_delivery_attempt']['rows']
    assert len(attempts) == sum(d['attempt_count'] for d in deliveries) > 0


def assert_survived(before, after):
    """Every row and column of ``before`` is in ``after`` with the same value (but REWRITABLE ones);
    the system parameters kept their values."""
    for table, old in before['tables'].items():
        if old is None:  # not in that release
            continue
        new = after['tables'][table]
        assert new is not None, 'table %s is gone' % table
        lost = set(old['columns']) - set(new['columns'])
        assert not lost, '%s lost columns %s' % (table, sorted(lost))
        kept = [c for c in old['columns'] if c not in REWRITABLE]
        old_rows = [{c: row[c] for c in kept} for row in old['rows']]
        new_rows = [{c: row[c] for c in kept} for row in new['rows']]
        assert len(new_rows) == len(old_rows), '%s: %d rows, %d before' % (table, len(new_rows), len(old_rows))
        for old_row, new_row in zip(old_rows, new_rows):
            changed = {c: (old_row[c], new_row[c]) for c in kept if old_row[c] != new_row[c]}
            assert not changed, '%s row %s changed (before, after): %s' % (table, old_row.get('id'), changed)
    changed = {key: (value, after['params'].get(key)) for key, value in before['params'].items()
               if after['params'].get(key) != value}
    assert not changed, 'system parameters changed (before, after): %s' % changed


def due_event_ids(snap):
    """The event ids a database of ``snap`` owes its receivers: its pending or sending deliveries',
    and those of its staged changes, one per callback that still exists (11.0.6.0.0 and later)."""
    from odoo.addons.account_webhook.payload import event_id_of
    due = {d['event_id'] for d in snap['tables']['webhook_delivery']['rows'] if d['state'] in ('pending', 'sending')}
    callbacks = {c['id'] for c in snap['tables']['webhook_callback']['rows']}
    staged = snap['tables']['webhook_event']
    return due | {event_id_of(row['key'], callback_id) for row in (staged['rows'] if staged else ())
                  for callback_id in row['callback_ids'] if callback_id in callbacks}


def dispatch_until(db, sinks_, expected, timeout=90):
    """Call ``webhook.delivery._dispatch_due()`` here, on a committed cursor, until every event id of
    ``expected`` arrived, then once more; returns what arrived, ``[(time, path, headers, body)]``."""
    import odoo
    registry = odoo.registry(db)
    deadline = time.time() + timeout
    while True:
        with odoo.api.Environment.manage(), registry.cursor() as cr:
            odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})['webhook.delivery']._dispatch_due()
            cr.commit()
        arrived = {r[2].get('webhook-id') for sink in sinks_ for r in sink.received}
        if expected <= arrived:
            break
        assert time.time() < deadline, 'not sent within %s s: %s' % (timeout, sorted(expected - arrived))
        time.sleep(0.5)
    with odoo.api.Environment.manage(), registry.cursor() as cr:  # nothing more is due: no second send
        odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})['webhook.delivery']._dispatch_due()
        cr.commit()
    time.sleep(0.5)
    return sorted(r for sink in sinks_ for r in sink.received)


# -- upgrades ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('version, commit', [case[1:] for case in UPGRADE_SOURCES],
                         ids=['%s-%s' % case[:2] for case in UPGRADE_SOURCES])
def test_upgrade_keeps_callbacks_and_deliveries_and_sends_what_was_due_once(
        version, commit, databases, sinks, tmp_path):
    up, down_port = sinks(), free_port()
    db = release_database(databases, commit, tmp_path, up, down_port)
    before = snapshot(db)
    assert before['module'] == ('installed', installed_form(version))
    assert_every_state(before)
    # POPULATE_AFTER's changes, staged and not fanned out yet (11.0.6.0.0 and later)
    assert before['tables']['webhook_event'] is None or len(before['tables']['webhook_event']['rows']) == 3

    log = str(tmp_path / 'upgrade.log')
    seconds = odoo_cli(CONFIG, db, ['-u', ADDON], log)
    after = snapshot(db)
    target = manifest()['version']
    assert after['module'] == ('installed', installed_form(target)), after['module']
    assert_survived(before, after)
    print('upgrade %s (%s) -> %s: %.1f s' % (version, commit[:10], target, seconds))

    # the receiver that was down is back; what was pending, retrying or sending is sent, once each
    down = sinks(down_port)
    deliveries = {d['event_id']: d for d in before['tables']['webhook_delivery']['rows']}
    callbacks = {c['id']: c for c in before['tables']['webhook_callback']['rows']}
    expected = due_event_ids(before)
    received = dispatch_until(db, [up, down], expected)
    ids = [headers.get('webhook-id') for _at, _path, headers, _body in received]
    duplicates = [e for e, n in collections.Counter(ids).items() if n > 1]
    assert not duplicates, 'sent more than once: %s' % duplicates
    assert set(ids) == expected, 'sent but not due: %s' % sorted(set(ids) - expected)
    # the deliveries as sent: those of before, and those fanned out of its staged changes
    sent = {d['event_id']: d for d in snapshot(db)['tables']['webhook_delivery']['rows']}
    for _at, path, headers, body in received:
        delivery = sent[headers['webhook-id']]
        callback = callbacks[delivery['callback_id']]
        assert body == delivery['payload'].encode('utf-8')
        assert path == urlparse(callback['url']).path
        assert signature_ok(callback['key'], headers, body), 'bad signature on %s' % path
    # one record, one URL: in the order the events happened, the retried one first
    order = {event_id: position for position, event_id in enumerate(ids)}
    queues = collections.defaultdict(list)
    for d in sorted(sent.values(), key=lambda d: d['id']):
        if d['event_id'] in expected:
            queues[(d['res_model'], d['res_id'], callbacks[d['callback_id']]['url'])].append(order[d['event_id']])
    assert any(len(q) > 1 for q in queues.values())
    assert all(q == sorted(q) for q in queues.values()), queues
    states = dict(sql(db, 'SELECT event_id, state FROM webhook_delivery'))
    assert {states[e] for e in expected} == {'done'}
    assert all(states[e] == d['state'] for e, d in deliveries.items() if e not in expected)


KILL_AT = {
    # schema changes of the addon under way (pre-migration scripts have run)
    'tables': 'module %s: creating or updating database tables' % ADDON,
    # the schema committed (Odoo commits right after it), data files and post-migration still to come
    'data': 'loading %s/' % ADDON,
}


@pytest.mark.parametrize('kill_at', sorted(KILL_AT))
def test_an_upgrade_killed_half_way_loses_nothing_and_completes_when_run_again(
        kill_at, databases, sinks, tmp_path):
    version, commit = previous_release()
    db = release_database(databases, commit, tmp_path, sinks(), free_port())
    before = snapshot(db)

    log_path = str(tmp_path / 'killed-upgrade.log')
    killed = threading.Event()
    cmd = [sys.executable, LAUNCHER, '-c', CONFIG, '-d', db, '--log-level=info', '--stop-after-init', '-u', ADDON]
    upgrade = start(cmd, log_path, stdout=subprocess.PIPE)

    def watch():
        with open(log_path, 'ab') as log:
            for line in upgrade.stdout:
                if not killed.is_set() and KILL_AT[kill_at].encode() in line:
                    os.killpg(upgrade.pid, signal.SIGKILL)
                    killed.set()
                log.write(line)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        upgrade.wait(120)
    finally:
        stop(upgrade)
        watcher.join(10)
    assert killed.is_set() and upgrade.returncode == -signal.SIGKILL, \
        'the upgrade ended (exit %s) before %r; see %s' % (upgrade.returncode, KILL_AT[kill_at], log_path)

    interrupted = snapshot(db)
    assert interrupted['module'][1] == installed_form(version), interrupted['module']
    print('killed at %r: module %s %s' % (kill_at, *interrupted['module']))
    assert_survived(before, interrupted)

    odoo_cli(CONFIG, db, ['-u', ADDON], str(tmp_path / 'upgrade-again.log'))
    completed = snapshot(db)
    assert completed['module'] == ('installed', installed_form(manifest()['version']))
    assert_survived(before, completed)


# -- installing, uninstalling ------------------------------------------------------------------------

ADMIN = """
with odoo.api.Environment.manage(), odoo.registry(DB).cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    for key, value in sorted(ARGS['params'].items()):
        env['ir.config_parameter'].set_param(key, value)
    cr.commit()
    if ARGS['button']:  # what Apps does
        module = env['ir.module.module'].search([('name', '=', 'account_webhook')])
        getattr(module, 'button_immediate_' + ARGS['button'])()
"""
ALLOWED = 'account_webhook.allowed_targets'
# the demo callbacks: to the example receiver, and to the example invoice-item API (11.0.5.0.0)
DEMO_KEYS = sorted(['DemoKeyOnlyForTheExampleReceiver0000000%d' % i for i in (1, 2, 3)]
                   + ['DemoKeyOnlyForTheExampleInvoiceItemApi0%d' % i for i in (1, 2, 3)])


def schema(db):
    """What a database's schema holds, by kind: columns, functions, triggers, indexes, constraints."""
    queries = {
        'columns': "SELECT table_name || '.' || column_name FROM information_schema.columns"
                   " WHERE table_schema = current_schema()",
        'functions': 'SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace'
                     ' WHERE n.nspname = current_schema()',
        'triggers': "SELECT tgrelid::regclass::text || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal",
        'indexes': 'SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()',
        'constraints': "SELECT conrelid::regclass::text || ' ' || conname FROM pg_constraint c"
                       " JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema()",
    }
    return {kind: {row[0] for row in sql(db, query)} for kind, query in queries.items()}


def demo_keys(db):
    return sorted(row[0] for row in sql(db, 'SELECT key FROM webhook_callback WHERE key LIKE %s', ('DemoKey%',)))


def test_uninstall_leaves_nothing_behind_and_reinstalling_keeps_the_administrators_allow_list(
        databases, tmp_path):
    import odoo.addons.account_webhook as addon
    hook = manifest().get('uninstall_hook')
    assert hook and callable(getattr(addon, hook, None)), \
        "the manifest's uninstall_hook %r is not a function of the addon package: account_webhook/__init__.py " \
        "must import it (from .hooks import uninstall_hook)" % hook
    db = databases('uninstall', demo=True)
    log = str(tmp_path / 'odoo.log')
    bare = schema(db)
    odoo_cli(CONFIG, db, ['-i', ADDON], log)
    assert demo_keys(db) == DEMO_KEYS
    assert sql(db, 'SELECT value FROM ir_config_parameter WHERE key = %s', (ALLOWED,)) == [('127.0.0.1',)]
    installed = schema(db)
    assert 'account_webhook_notify()' in installed['functions']
    assert {'webhook_callback.key', 'webhook_delivery.payload'} <= installed['columns']
    owned = sql(db, """SELECT model, res_id FROM ir_model_data WHERE module = %s
                        AND model IN ('ir.cron', 'ir.ui.menu')""", (ADDON,))
    assert {model for model, _id in owned} == {'ir.cron', 'ir.ui.menu'}
    assert sql(db, "SELECT count(*) FROM mail_message WHERE model = 'webhook.callback'")[0][0] > 0  # demo chatter

    # an administrator tuned it, then uninstalls it from Apps
    odoo_script(CONFIG, db, ADMIN, log, button='uninstall', params={
        'account_webhook.lease_seconds': '60', 'account_webhook.retention_days': '7'})
    assert sql(db, 'SELECT state FROM ir_module_module WHERE name = %s', (ADDON,)) == [('uninstalled',)]
    left = {kind: sorted(names - bare[kind]) for kind, names in schema(db).items() if names - bare[kind]}
    assert not left, 'left in the schema: %s' % left
    assert sql(db, r"SELECT key FROM ir_config_parameter WHERE key LIKE 'account\_webhook.%'") == []
    for model, res_id in owned:
        assert sql(db, 'SELECT id FROM %s WHERE id = %%s' % model.replace('.', '_'), (res_id,)) == [], (model, res_id)
    assert sql(db, "SELECT model FROM ir_model WHERE model LIKE 'webhook.%'") == []
    assert sql(db, "SELECT name FROM ir_model_data WHERE module = %s", (ADDON,)) == []
    assert sql(db, "SELECT id FROM ir_act_server WHERE model_name LIKE 'webhook.%'") == []
    assert sql(db, "SELECT id FROM mail_message WHERE model LIKE 'webhook.%'") == []

    # the allow-list set by hand, then installed again from Apps, with demo data
    odoo_script(CONFIG, db, ADMIN, log, button='install', params={ALLOWED: '192.168.10.0/24'})
    assert sql(db, 'SELECT state FROM ir_module_module WHERE name = %s', (ADDON,)) == [('installed',)]
    assert demo_keys(db) == DEMO_KEYS
    assert sql(db, 'SELECT value FROM ir_config_parameter WHERE key = %s', (ALLOWED,)) == [('192.168.10.0/24',)]


def test_a_demo_database_keeps_an_edited_allow_list_through_an_upgrade(databases, tmp_path):
    """11.0.1.0.0's demo data made the allow-list a record of the addon; the demo file no longer
    declares it: what an administrator wrote into it stays through the upgrade."""
    version, commit = previous_release()
    db = databases('demo', demo=True)
    log = str(tmp_path / 'odoo.log')
    config = release_config(commit, tmp_path)
    odoo_cli(config, db, ['-i', ADDON], log)
    assert sql(db, 'SELECT value FROM ir_config_parameter WHERE key = %s', (ALLOWED,)) == [('127.0.0.1',)]
    odoo_script(config, db, ADMIN, log, button=None, params={ALLOWED: '127.0.0.1,192.168.10.0/24'})
    odoo_cli(CONFIG, db, ['-u', ADDON], log)
    assert sql(db, 'SELECT value FROM ir_config_parameter WHERE key = %s', (ALLOWED,)) == [
        ('127.0.0.1,192.168.10.0/24',)]
    assert demo_keys(db) == DEMO_KEYS
