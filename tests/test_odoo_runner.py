# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The addon's tests under Odoo's own runner, as OCA's CI and Runbot run them:
``odoo -i account_webhook --test-enable`` on a database with demo data, then ``-u`` on the same
database. Not pytest-odoo: Odoo decides what runs when (at install, post install), in its own
process, with its own cursors beside the install transaction.

The database is a copy of the template scripts/setup.sh caches (Odoo with the Invoicing app and
the generic chart of accounts, no addon), flagged as a demo database so that Odoo 11 runs tests at
all (it runs them only where demo data is loaded). The process has a timeout, its group is killed
at the end whatever happens, and the database is dropped.
"""
import os
import re
import sys
import time

import pytest

from .conftest import ROOT
from .pgtools import run_group, sql, template_copy

ADDON = 'account_webhook'
LAUNCHER = os.path.join(ROOT, 'scripts', 'odoo')
CONFIG = os.path.join(ROOT, 'var', 'odoo.conf')
TIMEOUT = 600
TEST_LOGGER = 'odoo.addons.%s.tests.' % ADDON
# the test modules of the addon (tests/__init__.py), each reported with its own 'Ran N tests'
TEST_MODULES = ('test_capture', 'test_capture_queries', 'test_copy_database', 'test_delivery', 'test_hostile_answers',
                'test_hostile_input',
                'test_housekeeping',
                'test_install', 'test_payload_secrets',
                'test_operations', 'test_replay', 'test_sender', 'test_shaping', 'test_webhook_callback')


def run_odoo(db, args, log_path):
    """``scripts/odoo -c var/odoo.conf -d db args --test-enable --stop-after-init``: (exit code, log)."""
    cmd = [sys.executable, LAUNCHER, '-c', CONFIG, '-d', db, '--test-enable', '--stop-after-init',
           '--log-level=test', '--logfile=%s' % log_path] + list(args)
    returncode = run_group(cmd, TIMEOUT)
    with open(log_path, encoding='utf-8', errors='replace') as log:
        text = log.read()
    assert returncode is not None, 'odoo %s still running after %d s (a hang); end of %s:\n%s' % (
        ' '.join(args), TIMEOUT, log_path, '\n'.join(text.splitlines()[-40:]))
    return returncode, text


def addon_test_report(log):
    """{test module: tests ran} from the addon's 'Ran N tests' lines, and its FAIL/ERROR lines."""
    ran = {}
    for module, count in re.findall(r' %s(\w+): Ran (\d+) tests? in ' % re.escape(TEST_LOGGER), log):
        ran[module] = ran.get(module, 0) + int(count)
    problems = [line for line in log.splitlines()
                if re.search(r' (ERROR|CRITICAL) ', line)
                and (TEST_LOGGER in line or 'Module %s:' % ADDON in line or 'odoo.addons.%s' % ADDON in line)]
    problems += [line for line in log.splitlines() if 'At least one test failed' in line]
    return ran, problems


def assert_addon_tests_passed(returncode, log, what):
    ran, problems = addon_test_report(log)
    assert not problems, '%s: the addon\'s tests failed:\n%s' % (what, '\n'.join(problems[:60]))
    assert sorted(ran) == sorted(TEST_MODULES), '%s: test modules that ran: %s' % (what, ran)
    assert sum(ran.values()) >= 100, '%s: only %s tests ran' % (what, ran)
    assert returncode == 0, '%s: odoo exited with %s' % (what, returncode)
    return sum(ran.values())


@pytest.fixture
def database():
    with template_copy('awh_runner_%d' % os.getpid()) as name:
        # a demo database: Odoo 11 runs a module's tests only where its demo data is loaded
        sql(name, "UPDATE ir_module_module SET demo = true WHERE state = 'installed'")
        yield name


def test_install_then_update_with_odoos_test_runner(database, tmp_path):
    started = time.time()
    returncode, log = run_odoo(database, ['-i', ADDON], str(tmp_path / 'install.log'))
    installed = assert_addon_tests_passed(returncode, log, '-i %s --test-enable' % ADDON)
    assert sql(database, "SELECT state FROM ir_module_module WHERE name = %s", (ADDON,)) == [('installed',)]
    install_seconds = time.time() - started

    returncode, log = run_odoo(database, ['-u', ADDON], str(tmp_path / 'update.log'))
    updated = assert_addon_tests_passed(returncode, log, '-u %s --test-enable' % ADDON)
    assert updated == installed
    print('odoo -i: %d tests in %.0f s; -u: %d tests in %.0f s' % (
        installed, install_seconds, updated, time.time() - started - install_seconds))
