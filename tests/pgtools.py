# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""PostgreSQL for the tests (and benchmarks) that make databases of their own: the connection
settings of var/odoo.conf, one-statement helpers, and copies of the base database that
scripts/setup.sh caches (Odoo with the Invoicing app and a chart of accounts, no addon)."""
import configparser
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, 'var', 'odoo.conf')


def odoo_options(config=CONFIG):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(config)
    return parser['options']


def connect(db, config=CONFIG):
    options = odoo_options(config)
    password = options.get('db_password')
    return psycopg2.connect(dbname=db, host=options['db_host'], port=options['db_port'], user=options['db_user'],
                            password=None if password in (None, 'False') else password)


def sql(db, query, params=None, config=CONFIG):
    """One statement in autocommit; its rows (None for statements without)."""
    conn = connect(db, config)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def base_template(config=CONFIG):
    """setup.sh's cached base database ($AWH_TEMPLATE_DB, else the newest awh_base_*), or None."""
    if os.environ.get('AWH_TEMPLATE_DB'):
        return os.environ['AWH_TEMPLATE_DB']
    rows = sql('postgres', r"SELECT datname FROM pg_database WHERE datname LIKE 'awh\_base\_%' ORDER BY oid DESC",
               config=config)
    return rows[0][0] if rows else None


def filestore(db, config=CONFIG):
    return os.path.join(odoo_options(config)['data_dir'], 'filestore', db)


def copy_database(db, template, config=CONFIG):
    """``db`` as a copy of ``template`` (and its filestore); waits up to 30 s for it to be unused."""
    for _attempt in range(30):
        try:
            sql('postgres', 'CREATE DATABASE "%s" TEMPLATE "%s"' % (db, template), config=config)
            break
        except psycopg2.errors.ObjectInUse:  # another process is connected to the template right now
            time.sleep(1)
    else:
        raise RuntimeError('database %s stayed in use for 30 s: cannot copy it' % template)
    if os.path.isdir(filestore(template, config)):
        shutil.copytree(filestore(template, config), filestore(db, config))


def drop_database(db, config=CONFIG):
    odoo = sys.modules.get('odoo')
    if odoo is not None and hasattr(odoo, 'modules'):  # a registry this process opened on it
        odoo.modules.registry.Registry.delete(db)
        odoo.sql_db.close_db(db)
    sql('postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db, config=config)
    shutil.rmtree(filestore(db, config), ignore_errors=True)


@contextlib.contextmanager
def template_copy(name, config=CONFIG):
    """A scratch database ``name``, a copy of setup.sh's base database, dropped on exit."""
    template = base_template(config)
    assert template, 'no template database awh_base_*: run scripts/setup.sh test (make test does)'
    drop_database(name, config)
    try:
        copy_database(name, template, config)
        yield name
    finally:
        drop_database(name, config)


def run_group(cmd, timeout, stdout=subprocess.DEVNULL, **kwargs):
    """Run ``cmd`` in a process group of its own; whatever is left of the group is killed when it
    ends or after ``timeout`` seconds. Returns the exit code, or None when it timed out."""
    process = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(30)
