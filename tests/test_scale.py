# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The outbox at scale, in a database of its own: a copy of the template scripts/setup.sh caches,
the addon installed, then filled with SQL (generate_series) to SCALE_DELIVERIES deliveries and
about SCALE_ATTEMPTS attempts, ANALYZEd, dropped at the end.

What is checked: the dispatcher's claims, the failing-callback check and what the web client asks
for the deliveries list, graph and pivot, the callbacks list (health) and the callback form use
indexes (EXPLAIN shows no sequential scan of the outbox tables) and take milliseconds;
housekeeping commits short batches and gives way to a lock; an upgrade (-u) run while
housekeeping works is not held up.

``fill_outbox``, ``create_scratch`` and ``drop_scratch`` serve bench/bench_scale.py too.
"""
import datetime
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

import psycopg2
import pytest

from .conftest import ROOT
from .pgtools import CONFIG, base_template, connect, copy_database, drop_database, odoo_options, sql

LAUNCHER = os.path.join(ROOT, 'scripts', 'odoo')
OUTBOX = ('webhook_delivery', 'webhook_delivery_attempt')
SCALE_DELIVERIES, SCALE_ATTEMPTS = 200000, 500000

# -- databases ----------------------------------------------------------------------------------


def create_scratch(name, template=None, config=CONFIG, log_path=None):
    """Database ``name``: a copy of ``template`` when it has the addon installed, else of setup.sh's
    base database (or an empty one) with the addon installed from this checkout."""
    drop_scratch(name, config)
    source = template or base_template(config)
    if source:
        copy_database(name, source, config)
    else:
        sql('postgres', 'CREATE DATABASE "%s"' % name, config=config)
    installed = sql(name, "SELECT 1 FROM pg_class WHERE relname = 'ir_module_module'", config=config) and sql(
        name, "SELECT 1 FROM ir_module_module WHERE name = 'account_webhook' AND state = 'installed'", config=config)
    if installed:  # a copy of a database with the addon, which holds a copy's deliveries: this one sends
        sql(name, "UPDATE ir_config_parameter SET value = current_database() "
                  "WHERE key = 'account_webhook.database_name'", config=config)
    else:
        log_path = log_path or os.path.join(ROOT, 'var', 'log', 'scale-%s.log' % name)
        with open(log_path, 'ab') as log:
            returncode = subprocess.call(
                [sys.executable, LAUNCHER, '-c', config, '-d', name, '-i', 'account_webhook', '--without-demo=all',
                 '--stop-after-init', '--log-level=warn'], stdout=log, stderr=subprocess.STDOUT, timeout=600)
        if returncode:
            raise RuntimeError('installing account_webhook in %s failed; see %s' % (name, log_path))


def drop_scratch(name, config=CONFIG):
    drop_database(name, config)


# -- the outbox, filled ---------------------------------------------------------------------------

FILL = """
CREATE TEMP TABLE scale_callback ON COMMIT DROP AS
SELECT n - 1 AS k, nextval('webhook_callback_id_seq')::int AS id FROM generate_series(1, %(callbacks)s) n;
INSERT INTO webhook_callback (id, name, key, action, model_id, model, url, endpoint, active, company_id,
                              rate_limit, max_in_flight, revision, create_date, write_date)
SELECT s.id, 'scale ' || s.k, substr(md5('key' || s.id) || md5('more' || s.id), 1, 40), 'update',
       (SELECT id FROM ir_model WHERE model = 'res.partner'), 'res.partner',
       'https://receiver-' || (s.k %% 10) || '.example.com/hooks/' || s.k,
       'https://receiver-' || (s.k %% 10) || '.example.com:443', true, (SELECT min(id) FROM res_company),
       CASE WHEN s.k %% 5 = 4 THEN 6000 ELSE 0 END, 0, 1, now() at time zone 'UTC', now() at time zone 'UTC'
  FROM scale_callback s;
INSERT INTO webhook_delivery (callback_id, event_id, res_model, res_id, operation, payload, state, attempt_count,
                              next_attempt_at, last_status_code, last_error, done_at, create_date, write_date)
SELECT cb.id, md5('event' || r.i), r.model, r.res_id, 'update',
       '{"object": "' || r.model || '", "operation": "update", "id": ' || r.res_id
       || ', "values": {"name": "Record ' || r.res_id || '", "email": "r' || r.res_id || '@example.com", "street": "'
       || md5(r.i::text) || '", "comment": "' || repeat(md5((r.i + 1)::text), 16)
       || '"}, "changed": ["email"], "event_id": "' || md5('event' || r.i) || '"}',
       r.state, r.attempts,
       CASE WHEN r.state = 'pending' AND r.attempts > 0 THEN r.t + interval '5 minutes' ELSE r.t END,
       CASE WHEN r.state = 'done' THEN 200 WHEN r.attempts > 0 THEN 503 END,
       CASE WHEN r.state <> 'done' AND r.attempts > 0 THEN 'HTTP 503: Service Unavailable' END,
       CASE WHEN r.state = 'done' THEN r.t + (r.attempts - 1) * interval '7 minutes' + interval '1 second' END,
       r.t, LEAST(now() at time zone 'UTC', r.t + CASE r.state WHEN 'failed' THEN interval '2 days'
                                                   WHEN 'done' THEN (r.attempts - 1) * interval '7 minutes'
                                                   ELSE interval '0' END)
  FROM (SELECT g.i, g.t, g.k, CASE WHEN g.i %% 2 = 0 THEN 'res.partner' ELSE 'account.invoice' END AS model,
               (g.i::bigint * 7919) %% %(records)s + 1 AS res_id,
               CASE WHEN g.i > %(deliveries)s - %(pending)s THEN 'pending'
                    WHEN g.i %% 20 = 7 OR (g.k = 0 AND g.t > now() at time zone 'UTC' - interval '7 days') THEN 'failed'
                    ELSE 'done' END AS state,
               CASE WHEN g.i > %(deliveries)s - %(pending)s THEN g.i %% 3
                    WHEN g.i %% 20 = 7 OR (g.k = 0 AND g.t > now() at time zone 'UTC' - interval '7 days') THEN 8
                    ELSE 1 + (g.i * 13) %% %(spread)s END AS attempts
          FROM (SELECT i, (i * 7 + i / %(callbacks)s) %% %(callbacks)s AS k,
                       now() at time zone 'UTC'
                       - interval '1 day' * %(days)s * (%(deliveries)s - i) / %(deliveries)s AS t
                  FROM generate_series(1, %(deliveries)s) i) g) r
  JOIN scale_callback cb ON cb.k = r.k
 ORDER BY r.i;
INSERT INTO webhook_delivery_attempt (delivery_id, callback_id, attempted_at, status_code, duration_ms, error,
                                      success, sent_by, create_date, write_date)
SELECT d.id, d.callback_id, a.at, CASE WHEN a.ok THEN 200 ELSE 503 END, 20 + a.n,
       CASE WHEN NOT a.ok THEN 'HTTP 503: Service Unavailable' END, a.ok, 'scale:1', a.at, a.at
  FROM webhook_delivery d JOIN scale_callback cb ON cb.id = d.callback_id
 CROSS JOIN LATERAL (
       SELECT n, d.state = 'done' AND n = d.attempt_count AS ok,
              LEAST(now() at time zone 'UTC',
                    d.create_date + (n - 1) * CASE d.state WHEN 'failed' THEN interval '6 hours'
                                                           ELSE interval '7 minutes' END) AS at
         FROM generate_series(1, d.attempt_count) n) a
 ORDER BY d.id, a.n;
"""


def fill_outbox(conn, deliveries, attempts, callbacks=20, pending=None, days=100, records=50000):
    """Add ``callbacks`` callbacks (on 10 endpoints, every fifth rate-limited) and ``deliveries``
    deliveries, one per callback in turn, created evenly over the last ``days`` days, on
    ``records`` records of two models. The newest ``pending`` (default 1 %) are still to send
    (a third first attempts, the others retries); of the rest, one in 20 failed after 8 attempts,
    the others were delivered after 1 to n attempts (about ``attempts`` attempts in all). The first
    callback's receiver has been down for 7 days: its deliveries since then failed. Returns the ids
    of the callbacks. The outbox's foreign keys are checked once at the end (fast), not per row."""
    pending = deliveries // 100 if pending is None else pending
    per_delivery = float(attempts) / deliveries
    spread = max(1, int(round(2 * (per_delivery - 0.4) / 0.95 - 1)))  # done ones: 1 + (0 .. spread-1)
    with conn.cursor() as cr:
        cr.execute("""SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                       WHERE contype = 'f' AND conrelid IN ('webhook_delivery'::regclass,
                                                            'webhook_delivery_attempt'::regclass)""")
        foreign_keys = cr.fetchall()
        for table, name, _definition in foreign_keys:
            cr.execute('ALTER TABLE %s DROP CONSTRAINT %s' % (table, name))
        cr.execute(FILL, dict(deliveries=deliveries, callbacks=callbacks, pending=pending, days=days,
                              spread=spread, records=records))
        for table, name, definition in foreign_keys:
            cr.execute('ALTER TABLE %s ADD CONSTRAINT %s %s' % (table, name, definition))
        cr.execute("SELECT id FROM webhook_callback WHERE name LIKE 'scale %%' ORDER BY id")
        callback_ids = [row[0] for row in cr.fetchall()]
    conn.commit()
    analyze(conn)
    return callback_ids


def analyze(conn):
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            for table in OUTBOX + ('webhook_callback',):
                cr.execute('VACUUM ANALYZE %s' % table)
    finally:
        conn.autocommit = autocommit


def table_sizes(conn):
    with conn.cursor() as cr:
        cr.execute("""SELECT relname, reltuples::bigint, pg_size_pretty(pg_relation_size(oid)),
                             pg_size_pretty(pg_indexes_size(oid))
                        FROM pg_class WHERE relname IN %s ORDER BY relname""", (OUTBOX,))
        return cr.fetchall()


# -- plans ----------------------------------------------------------------------------------------

class RecordingCursor(object):
    """A psycopg2 cursor that remembers each statement it ran, with its parameters inlined."""

    def __init__(self, cr):
        self.cr, self.statements = cr, []

    def execute(self, query, params=None):
        self.statements.append(self.cr.mogrify(query, params).decode('utf-8'))
        return self.cr.execute(query, params)

    def __getattr__(self, name):
        return getattr(self.cr, name)


def explainable(statement):
    """Statements that read the tables (EXECUTE: a statement PREPAREd before, its generic plan)."""
    return re.match(r'\s*(SELECT|WITH|UPDATE|DELETE|INSERT|EXECUTE)\b', statement, re.I) and \
        'pg_advisory' not in statement


def sequential_scans(cr, statement):
    """Outbox tables this statement reads with a sequential scan, and its plan (text)."""
    cr.execute('EXPLAIN (FORMAT JSON) ' + statement)
    plan = cr.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found = []

    def walk(node):
        if node.get('Node Type') == 'Seq Scan' and node.get('Relation Name') in OUTBOX:
            found.append(node['Relation Name'])
        for child in node.get('Plans', ()):
            walk(child)
    walk(plan[0]['Plan'])
    cr.execute('EXPLAIN ' + statement)
    return found, '\n'.join(row[0] for row in cr.fetchall())


def assert_indexed(cr, statements, what):
    checked = 0
    for statement in statements:
        if not explainable(statement):
            continue
        found, plan = sequential_scans(cr, statement)
        assert not found, '%s: a sequential scan of %s in\n%s\n%s' % (what, ', '.join(found), statement, plan)
        checked += 1
    return checked


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# -- the database of this module --------------------------------------------------------------------

@pytest.fixture(scope='module')
def scale_db():
    name = 'awh_scale_%d' % os.getpid()
    try:
        started = time.time()
        create_scratch(name)
        conn = connect(name)
        try:
            fill_started = time.time()
            callbacks = fill_outbox(conn, SCALE_DELIVERIES, SCALE_ATTEMPTS)
            sizes = table_sizes(conn)
            with conn.cursor() as cr:  # as where a cron worker runs: no job overdue
                cr.execute("UPDATE ir_cron SET nextcall = (now() at time zone 'UTC') + interval '1 day'")
            conn.commit()
        finally:
            conn.close()
        print('\nscale database %s: made in %.1fs, filled in %.1fs: %s' % (
            name, fill_started - started, time.time() - fill_started, sizes))
        yield {'name': name, 'callbacks': callbacks}
    finally:
        drop_scratch(name)


def dispatcher_connection(db, config=CONFIG):
    """A connection as the dispatcher's engine makes them: run() PREPAREs its statements on
    it, planned once for any parameters (force_generic_plan)."""
    from odoo.addons.account_webhook.runtime import engine
    options = odoo_options(config)
    conn = psycopg2.connect(dbname=db, host=options['db_host'], port=options['db_port'], user=options['db_user'],
                            connection_factory=engine.Connection)
    conn.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_READ_COMMITTED)
    with conn.cursor() as cr:
        cr.execute('SET plan_cache_mode TO force_generic_plan')
    conn.commit()
    return conn


@pytest.mark.parametrize('prepared', [False, True], ids=['plain', 'dispatcher'])
def test_claims_use_indexes_and_take_milliseconds(scale_db, prepared):
    """A claim (first attempts and retries with the per-record order check, rate limits, the lease)
    as an Odoo cursor runs it (plain statements) and as the dispatcher does (generic plans)."""
    from odoo.addons.account_webhook.runtime import claiming
    from odoo.addons.account_webhook.runtime.state import read_state
    conn = (dispatcher_connection if prepared else connect)(scale_db['name'])
    try:
        cr = conn.cursor()
        timings = []
        for _round in range(15):
            started = time.perf_counter()
            jobs = claiming.claim(cr, read_state(cr), 64)
            timings.append(time.perf_counter() - started)
            conn.rollback()
        assert len(jobs) == 64
        recorder = RecordingCursor(cr)
        claiming.claim(recorder, read_state(recorder), 64)
        conn.rollback()
        checked = assert_indexed(cr, recorder.statements, 'a claim')
        conn.rollback()
        # retries only (the first attempts are not due)
        cr.execute("UPDATE webhook_delivery SET next_attempt_at = next_attempt_at + interval '1 day' "
                   "WHERE state = 'pending' AND attempt_count = 0")
        recorder = RecordingCursor(cr)
        retried = claiming.claim(recorder, read_state(recorder), 64)
        assert retried
        checked += assert_indexed(cr, recorder.statements, 'a claim of retries')
        conn.rollback()
    finally:
        conn.close()
    print('\nclaim of 64 among %d deliveries (%d pending), %s: p50 %.1f ms, max %.1f ms; %d statements explained' % (
        SCALE_DELIVERIES, SCALE_DELIVERIES // 100, 'generic plans' if prepared else 'plain statements',
        statistics.median(timings) * 1000, max(timings) * 1000, checked))
    assert checked >= 4
    assert statistics.median(timings) < 0.2, 'a claim takes %.0f ms' % (statistics.median(timings) * 1000)


# -- the ORM on the scale database: the web client's requests, the failing check, housekeeping ---------

@pytest.fixture(scope='module')
def scale_registry(scale_db):
    import odoo
    registry = odoo.registry(scale_db['name'])
    yield registry
    odoo.modules.registry.Registry.delete(scale_db['name'])
    odoo.sql_db.close_db(scale_db['name'])


def recording(cr):
    """Record the statements an Odoo cursor runs (inlined); returns the list and the raw execute."""
    statements, execute = [], cr.execute

    def record(query, params=None, log_exceptions=None):
        statements.append(cr._obj.mogrify(query, params).decode('utf-8') if params is not None else query)
        return execute(query, params, log_exceptions)
    cr.execute = record
    return statements, execute


def view_fields(env, model, view_type):
    return list(env[model].fields_view_get(view_type=view_type)['fields'])


def web_client_requests(env, callback_id):
    """What the web client asks for the deliveries list (with the filters, groupings and search
    fields of its search view) and for a callback's form: ``[(label, callable)]``."""
    from lxml import etree
    deliveries = env['webhook.delivery']
    list_fields = view_fields(env, 'webhook.delivery', 'tree')
    search = etree.fromstring(deliveries.fields_view_get(view_type='search')['arch'])
    names = {'context_today': datetime.date.today}  # what the web client evaluates domains with
    filters = [('filter %s' % node.get('name'), eval(node.get('domain'), names))  # noqa: S307 (the view's)
               for node in search.iter('filter') if node.get('domain')]
    groupings = [eval(node.get('context'))['group_by'] for node in search.iter('filter')  # noqa: S307
                 if 'group_by' in (node.get('context') or '')]
    samples = {'callback_id': callback_id, 'res_model': 'partner', 'res_id': 4242, 'event_id': 'a' * 32}
    searches = []
    for node in search.iter('field'):
        name = node.get('name')
        field = deliveries._fields[name]
        operator = node.get('operator') or ('=' if field.type in ('integer', 'many2one') else 'ilike')
        searches.append(('search %s' % name, [(name, operator, samples[name])]))

    def list_request(domain):
        def request():  # /web/dataset/search_read: 80 rows, then the count when the page is full
            rows = deliveries.search_read(domain, list_fields, offset=0, limit=80, order=None)
            if len(rows) == 80:
                deliveries.search_count(domain)
        return request

    requests = [('list', list_request([]))]
    for label, domain in filters + searches + [('related records', [('callback_id', '=', callback_id)])]:
        requests.append((label, list_request(domain)))
    for grouping in groupings:
        for label, domain in [('', [])] + filters:
            requests.append(('group by %s %s' % (grouping, label), lambda domain=domain, grouping=grouping:
                             deliveries.read_group(domain, list_fields, [grouping], lazy=True)))
    for view_type in ('graph', 'pivot'):  # what the two views group by, over all the deliveries
        arch = etree.fromstring(deliveries.fields_view_get(view_type=view_type)['arch'])
        grouped = ['%s:%s' % (node.get('name'), node.get('interval')) if node.get('interval') else node.get('name')
                   for node in arch.iter('field')]
        names = [name.split(':')[0] for name in grouped]  # the count, by each leading part of the grouping
        for label, domain in [('', [])] + filters:
            for size in range(1, len(grouped) + 1):
                requests.append(('%s %s by %s' % (view_type, label, size), lambda d=domain, g=grouped[:size], n=names:
                                 deliveries.read_group(d, n, g, lazy=False)))
    form_fields = view_fields(env, 'webhook.callback', 'form')
    requests.append(('callback form', lambda: env['webhook.callback'].browse(callback_id).read(form_fields)))
    callbacks_list = view_fields(env, 'webhook.callback', 'tree')  # the health columns
    requests.append(('callbacks list', lambda: env['webhook.callback'].search_read([], callbacks_list, limit=80)))
    return requests


def test_the_web_client_reads_indexes_only(scale_db, scale_registry):
    from odoo import SUPERUSER_ID, api
    callback_id = scale_db['callbacks'][1]
    timings = {}
    with api.Environment.manage(), scale_registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        admin = env['res.users'].with_context(no_reset_password=True).create({
            'name': 'Scale settings admin', 'login': 'scale_settings_admin',
            'groups_id': [(6, 0, [env.ref('base.group_system').id, env.ref('base.group_user').id])]})
        for user in (SUPERUSER_ID, admin.id):  # the superuser, and one to whom the record rules apply
            user_env = api.Environment(cr, user, {})
            for label, request in web_client_requests(user_env, callback_id):
                user_env['webhook.delivery'].invalidate_cache()  # the whole cache
                statements, execute = recording(cr)
                started = time.perf_counter()
                request()
                elapsed = time.perf_counter() - started
                cr.execute = execute
                outbox_statements = [s for s in statements if 'webhook_delivery' in s]
                assert_indexed(cr, outbox_statements, '%s (user %s)' % (label, user))
                timings['%s (uid %s)' % (label, user)] = elapsed
        cr.rollback()
    slowest = sorted(timings.items(), key=lambda item: -item[1])[:5]
    print('\nweb client at %d deliveries: %d requests explained, slowest: %s' % (
        SCALE_DELIVERIES, len(timings), ', '.join('%s %.0f ms' % (label, t * 1000) for label, t in slowest)))
    assert slowest[0][1] < 1.0, slowest


def test_the_failing_callback_check_reads_indexes_only(scale_db, scale_registry):
    from odoo import SUPERUSER_ID, api
    from odoo.tools import mute_logger
    with api.Environment.manage(), scale_registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        statements, execute = recording(cr)
        started = time.perf_counter()
        with mute_logger('odoo.addons.account_webhook.runtime.outbox'):
            failing = env['webhook.callback']._deactivate_failing()
        elapsed = time.perf_counter() - started
        cr.execute = execute
        assert failing.ids == scale_db['callbacks'][:1], 'the callback whose receiver is down for 7 days'
        assert assert_indexed(cr, [s for s in statements if 'webhook_delivery_attempt' in s], 'failing check') == 1
        cr.rollback()
    print('\nfailing-callback check over %d attempts: %.1f ms' % (SCALE_ATTEMPTS, elapsed * 1000))
    assert elapsed < 0.5


def test_housekeeping_gives_way_to_a_lock_and_commits_short_batches(scale_db, scale_registry):
    """An upgrade's CREATE INDEX takes a SHARE lock; housekeeping waits at most its lock timeout for
    it, then stops (rolled back) and goes on at its next call, in batches committed one by one."""
    from odoo import SUPERUSER_ID, api
    from odoo.addons.account_webhook.models import webhook_housekeeping
    name = scale_db['name']
    count = "SELECT count(*) FROM webhook_delivery WHERE state = 'done'"
    done_before = sql(name, count)[0][0]
    holder = connect(name)
    try:
        holder.cursor().execute('LOCK TABLE webhook_delivery IN SHARE MODE')
        with api.Environment.manage(), scale_registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            started = time.monotonic()
            report = env['webhook.delivery']._housekeeping(max_seconds=30, commit=True)
            elapsed = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert report['stopped'] == 'lock' and report['deliveries'] == 0, report
    assert elapsed < 5, 'housekeeping waited %.1fs behind a lock' % elapsed
    assert sql(name, count)[0][0] == done_before
    with api.Environment.manage(), scale_registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        original = webhook_housekeeping.FIRST_BATCH, webhook_housekeeping.MAX_BATCH
        webhook_housekeeping.FIRST_BATCH = webhook_housekeeping.MAX_BATCH = 500
        try:
            report = env['webhook.delivery']._housekeeping(max_seconds=1, commit=True)
        finally:
            webhook_housekeeping.FIRST_BATCH, webhook_housekeeping.MAX_BATCH = original
        cr.rollback()  # what the batches committed stays
    assert report['stopped'] == 'time' and report['deliveries'] >= 500, report
    assert report['longest'] < 2, report
    assert sql(name, count)[0][0] == done_before - report['deliveries']


def test_housekeeping_from_the_cron_stops_after_a_batch_when_another_cron_job_waits(scale_db, scale_registry):
    from odoo import SUPERUSER_ID, api
    from odoo.addons.account_webhook.models import webhook_housekeeping
    name = scale_db['name']
    sweep = sql(name, "SELECT res_id FROM ir_model_data WHERE module = 'account_webhook' "
                      "AND name = 'ir_cron_webhook_dispatch'")[0][0]
    set_nextcall = "UPDATE ir_cron SET nextcall = (now() at time zone 'UTC') + interval '1 minute' * %s WHERE id = %s"

    def housekeeping(max_seconds):
        with api.Environment.manage(), scale_registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return env['webhook.delivery']._housekeeping(max_seconds=max_seconds, commit=True, yield_to_crons=True)
    original = webhook_housekeeping.FIRST_BATCH, webhook_housekeeping.MAX_BATCH
    webhook_housekeeping.FIRST_BATCH = webhook_housekeeping.MAX_BATCH = 200
    holder = connect(name)
    try:
        sql(name, set_nextcall, (-1, sweep))  # the sweep is due and no cron worker has taken it
        report = housekeeping(30)
        assert (report['stopped'], report['deliveries']) == ('cron', 200), report
        # a cron worker runs it (Odoo's runner holds its row locked): housekeeping goes on
        holder.cursor().execute('SELECT id FROM ir_cron WHERE id = %s FOR UPDATE NOWAIT', (sweep,))
        report = housekeeping(0.5)
        assert report['stopped'] == 'time' and report['deliveries'] > 200, report
    finally:
        webhook_housekeeping.FIRST_BATCH, webhook_housekeeping.MAX_BATCH = original
        holder.rollback()
        holder.close()
        sql(name, set_nextcall, (24 * 60, sweep))


def test_odoo_cron_runner_runs_housekeeping_committing_its_batches(scale_db, scale_registry):
    """The job as Odoo's cron thread runs it (the job's row locked, the job's cursor committed by the
    method): the old deliveries go, and the runner schedules the next call afterwards."""
    import threading
    from odoo.addons.base.ir.ir_cron import ir_cron
    name = scale_db['name']
    cron_id = sql(name, "SELECT res_id FROM ir_model_data WHERE module = 'account_webhook' "
                        "AND name = 'ir_cron_webhook_housekeeping'")[0][0]
    sql(name, "UPDATE ir_cron SET nextcall = (now() at time zone 'UTC') - interval '1 minute' WHERE id = %s",
        (cron_id,))
    old_done = ("SELECT count(*) FROM webhook_delivery WHERE state = 'done' "
                "AND done_at < (now() at time zone 'UTC') - interval '30 days'")
    assert sql(name, old_done)[0][0] > 0
    cron_thread = threading.Thread(target=ir_cron._acquire_job, args=(name,), name='odoo.service.cron.cron0')
    started = time.time()
    cron_thread.start()  # a thread of its own, as Odoo's: not the test's, so the method commits
    cron_thread.join(120)
    assert not cron_thread.is_alive(), 'the cron job ran over 120 s'
    assert sql(name, old_done)[0][0] == 0
    assert sql(name, "SELECT nextcall > now() at time zone 'UTC' FROM ir_cron WHERE id = %s", (cron_id,))[0][0]
    print('\nhousekeeping run by Odoo\'s cron runner: %.1fs' % (time.time() - started))


# -- an upgrade while housekeeping works ---------------------------------------------------------------

HOUSEKEEPER = """
import json, sys, time
sys.path.insert(0, %(root)r)
import odoo_compat
odoo_compat.install()
import odoo
odoo_compat.patch_odoo()
odoo.tools.config.parse_config(['-c', %(config)r, '-d', %(db)r, '--log-level=warn'])
from odoo import SUPERUSER_ID, api
from odoo.addons.account_webhook.models import webhook_housekeeping
webhook_housekeeping.FIRST_BATCH = webhook_housekeeping.MAX_BATCH = %(batch)d  # still at work when the upgrade comes
registry = odoo.registry(%(db)r)
while True:  # the cron, called again and again until stopped
    with api.Environment.manage(), registry.cursor() as cr:
        cr.execute('SELECT pg_backend_pid()')
        print(json.dumps({'pid': cr.fetchone()[0]}), flush=True)
        report = api.Environment(cr, SUPERUSER_ID, {})['webhook.delivery']._cron_housekeeping(max_seconds=1)
    print(json.dumps(report), flush=True)
    time.sleep(0.2)
"""


def stop(process):
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(30)


def read_lines(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.startswith('{')]


def wait_until(predicate, timeout, message):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, message
        time.sleep(0.1)


def test_an_upgrade_is_not_held_up_by_housekeeping(scale_db):
    """Housekeeping (the cron's method, called again and again in a process of its own) deletes old
    deliveries while ``-u account_webhook`` runs: the upgrade never waits long for a lock (at most
    one batch), housekeeping never waits longer than its lock timeout, and goes on afterwards."""
    name = scale_db['name']
    old_done = ("SELECT count(*) FROM webhook_delivery WHERE state = 'done' "
                "AND done_at < (now() at time zone 'UTC') - interval '30 days'")
    missing = 50000 - sql(name, old_done)[0][0]
    if missing > 0:  # what the tests before took: housekeeping has work for longer than the upgrade takes
        sql(name, """UPDATE webhook_delivery SET done_at = done_at - interval '60 days'
                      WHERE id IN (SELECT id FROM webhook_delivery
                                    WHERE state = 'done' AND done_at >= (now() at time zone 'UTC') - interval '30 days'
                                    ORDER BY id LIMIT %s)""", (missing,))
    before = sql(name, old_done)[0][0]
    assert before >= 50000, 'housekeeping has work to do'
    log_dir = os.path.join(ROOT, 'var', 'log')
    reports_path = os.path.join(log_dir, 'scale-housekeeper-%s.jsonl' % name)
    upgrade_log = os.path.join(log_dir, 'scale-upgrade-%s.log' % name)
    monitor = connect(name)
    monitor.autocommit = True
    housekeeper = upgrade = None
    waits = {}  # backend pid -> [[first seen waiting for a lock, last seen], ...]
    try:
        with open(reports_path, 'w') as out:
            housekeeper = subprocess.Popen(
                [sys.executable, '-c', HOUSEKEEPER % dict(root=ROOT, config=CONFIG, db=name, batch=20)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: housekeeper.poll() is None and sql(name, old_done)[0][0] < before, 60,
                   'housekeeping deleted nothing in 60 s: %s' % open(reports_path).read()[-2000:])
        with open(upgrade_log, 'wb') as log:
            started, left_at_start = time.time(), sql(name, old_done)[0][0]
            upgrade = subprocess.Popen(
                [sys.executable, LAUNCHER, '-c', CONFIG, '-d', name, '-u', 'account_webhook', '--stop-after-init',
                 '--log-level=warn'], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        cr = monitor.cursor()
        while upgrade.poll() is None:
            assert time.time() - started < 300, 'the upgrade did not finish in 300 s'
            cr.execute("""SELECT pid, wait_event_type = 'Lock' FROM pg_stat_activity
                           WHERE datname = %s AND pid <> pg_backend_pid()""", (name,))
            now = time.time()
            for pid, waiting in cr.fetchall():
                spans = waits.setdefault(pid, [])
                if waiting and spans and now - spans[-1][1] < 0.3:
                    spans[-1][1] = now
                elif waiting:
                    spans.append([now, now])
            time.sleep(0.05)
        upgrade_seconds = time.time() - started
        assert upgrade.returncode == 0, 'the upgrade failed; see %s' % upgrade_log
        left_at_end = sql(name, old_done)[0][0]
        assert housekeeper.poll() is None, open(reports_path).read()[-2000:]
        wait_until(lambda: sql(name, old_done)[0][0] < left_at_end, 60, 'housekeeping did not go on')
    finally:
        for process in (housekeeper, upgrade):
            if process is not None:
                stop(process)
        monitor.close()
    lines = read_lines(reports_path)
    reports = [line for line in lines if 'stopped' in line]
    housekeeper_pids = set(line['pid'] for line in lines if 'pid' in line)

    def longest_wait(pids):
        return max([end - begin for pid in pids for begin, end in waits.get(pid, [])] or [0])
    upgrade_wait, housekeeping_wait = longest_wait(set(waits) - housekeeper_pids), longest_wait(housekeeper_pids)
    print('\nupgrade alongside housekeeping: %.1fs, its longest lock wait %.2fs; housekeeping deleted %d old '
          'delivered deliveries during it, waited %.2fs at most, gave way %d times; its longest transaction %.2fs' % (
              upgrade_seconds, upgrade_wait, left_at_start - left_at_end, housekeeping_wait,
              sum(1 for r in reports if r['stopped'] == 'lock'), max([r['longest'] for r in reports] or [0])))
    assert left_at_end < left_at_start, 'housekeeping worked while the upgrade ran'
    assert upgrade_wait < 3, 'the upgrade waited %.1fs for a lock' % upgrade_wait
    assert housekeeping_wait < 4, 'housekeeping waited %.1fs for a lock' % housekeeping_wait
    assert reports and max(r['longest'] for r in reports) < 5
