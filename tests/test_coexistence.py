# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The addon beside another addon that overrides the same writes: OCA's partner_firstname (Odoo 11,
from PyPI, requirements/odoo.txt) overrides res.partner's create and makes ``name`` a stored field
computed from ``firstname``/``lastname``, with an inverse that splits a written name.

On the same writes both must do their job: partner_firstname joins and splits the names, and our
capture writes outbox rows whose bodies carry the names as they end up in the database. Nothing is
sent (the server runs without dispatcher): the outbox rows are what is checked.

The database is a copy of setup.sh's cached base template with both addons installed by
``scripts/odoo -i … --stop-after-init``, served by an OdooServer and driven over XML-RPC; it is
dropped at the end.
"""
import json
import os
import sys
import time

import pytest

from .conftest import ROOT, OdooServer, Rpc
from .pgtools import CONFIG, run_group, sql, template_copy

LAUNCHER = os.path.join(ROOT, 'scripts', 'odoo')
LOG = os.path.join(ROOT, 'var', 'log', 'test-coexistence.log')
FIELDS = ['name', 'firstname', 'lastname']


def install(db, modules, timeout=600):
    os.makedirs(os.path.dirname(LOG), exist_ok=True)
    cmd = [sys.executable, LAUNCHER, '-c', CONFIG, '-d', db, '-i', modules, '--without-demo=all',
           '--log-level=warn', '--stop-after-init']
    with open(LOG, 'wb') as log:
        code = run_group(cmd, timeout, stdout=log)
    with open(LOG, 'rb') as log:
        assert code == 0, 'installing %s failed (exit %s):\n%s' % (modules, code, log.read()[-3000:].decode())


@pytest.fixture(scope='module')
def server():
    server = None
    with template_copy('awh_pkg_coexist_%d' % os.getpid()) as db:
        try:
            started = time.time()
            install(db, 'partner_firstname,account_webhook')
            print('both addons installed in %.0f s' % (time.time() - started))
            states = dict(sql(db, "SELECT name, state FROM ir_module_module WHERE name IN "
                                  "('partner_firstname', 'account_webhook')"))
            assert states == {'partner_firstname': 'installed', 'account_webhook': 'installed'}, states
            server = OdooServer(CONFIG, db)
            yield server
        finally:
            if server is not None:
                server.stop()


@pytest.fixture(scope='module')
def rpc(server):
    rpc = Rpc(server.url, server.database, 'admin', 'admin', timeout=120)
    for action in ('create', 'update', 'delete'):
        rpc('webhook.callback', 'create', {
            'name': 'contacts %s' % action, 'model': 'res.partner', 'action': action,
            'field_names': FIELDS, 'url': 'https://erp.example.com/hooks'})
    return rpc


def outbox(rpc, partner_id, after=0):
    """The outbox rows of one contact: [(operation, values of FIELDS, sorted changed or None)]."""
    rows = rpc('webhook.delivery', 'search_read', [['res_model', '=', 'res.partner'], ['res_id', '=', partner_id],
                                                   ['id', '>', after]], fields=['operation', 'payload', 'state'],
               order='id')
    found = []
    for row in rows:
        body = json.loads(row['payload'])
        assert row['state'] == 'pending' and body['id'] == partner_id and body['object'] == 'res.partner'
        assert body['operation'] == row['operation']
        changed = sorted(body['changed']) if 'changed' in body else None
        found.append((row['operation'], {k: body['values'].get(k) for k in FIELDS}, changed))
    return found


def last_delivery(rpc):
    return (rpc('webhook.delivery', 'search_read', [], fields=['id'], order='id desc', limit=1) or [{'id': 0}])[0]['id']


def names(rpc, partner_id):
    [record] = rpc('res.partner', 'read', [partner_id], fields=FIELDS)
    return {k: record[k] for k in FIELDS}


def test_names_are_joined_by_partner_firstname_and_sent_as_stored(rpc):
    before = last_delivery(rpc)
    # firstname + lastname given: partner_firstname computes the name ("last first" by default)
    ada = rpc('res.partner', 'create', {'firstname': 'Ada', 'lastname': 'Lovelace'})
    joined = {'name': 'Lovelace Ada', 'firstname': 'Ada', 'lastname': 'Lovelace'}
    assert names(rpc, ada) == joined
    assert outbox(rpc, ada, before) == [('create', joined, None)]

    # only a name given: partner_firstname's create splits it before the record exists
    alan = rpc('res.partner', 'create', {'name': 'Turing Alan'})
    split = {'name': 'Turing Alan', 'firstname': 'Alan', 'lastname': 'Turing'}
    assert names(rpc, alan) == split
    assert outbox(rpc, alan, before) == [('create', split, None)]


def test_a_written_name_is_split_and_a_written_firstname_rejoined_and_both_sent(rpc):
    grace = rpc('res.partner', 'create', {'firstname': 'Grace', 'lastname': 'Brewster'})
    before = last_delivery(rpc)

    # the name written: partner_firstname's inverse splits it into lastname and firstname
    rpc('res.partner', 'write', [grace], {'name': 'Hopper Grace'})
    after_name = {'name': 'Hopper Grace', 'firstname': 'Grace', 'lastname': 'Hopper'}
    assert names(rpc, grace) == after_name
    assert outbox(rpc, grace, before) == [('update', after_name, ['lastname', 'name'])]

    # the firstname written: the stored name is recomputed
    before = last_delivery(rpc)
    rpc('res.partner', 'write', [grace], {'firstname': 'Grace Brewster'})
    after_firstname = {'name': 'Hopper Grace Brewster', 'firstname': 'Grace Brewster', 'lastname': 'Hopper'}
    assert names(rpc, grace) == after_firstname
    assert outbox(rpc, grace, before) == [('update', after_firstname, ['firstname', 'name'])]

    # a write that changes nothing our callbacks track (the same names again) sends nothing
    before = last_delivery(rpc)
    rpc('res.partner', 'write', [grace], {'name': 'Hopper Grace Brewster'})
    assert names(rpc, grace) == after_firstname
    assert outbox(rpc, grace, before) == []

    # deleted: the names as they were before deletion
    before = last_delivery(rpc)
    rpc('res.partner', 'unlink', [grace])
    assert outbox(rpc, grace, before) == [('delete', after_firstname, None)]
