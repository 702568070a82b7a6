# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The addon as OCA ships addons for Odoo 11: a wheel built from setup/account_webhook (setuptools-odoo),
installed into a virtualenv of its own, served by an Odoo whose addons path does not contain this
repository.

The scratch virtualenv sees .venv's packages (Odoo and its dependencies) through a .pth file, as a
deployment sees its Odoo; the addon itself is only in the scratch virtualenv, under the
``odoo/addons`` namespace the wheel installs. Its database is a copy of setup.sh's cached base
template, dropped at the end.
"""
import configparser
import email.parser
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import time

import docutils.core
import pytest

from .conftest import ROOT
from .pgtools import CONFIG, run_group, sql, template_copy

SETUP_DIR = os.path.join(ROOT, 'setup', 'account_webhook')
LAUNCHER = os.path.join(ROOT, 'scripts', 'odoo')
LOG = os.path.join(ROOT, 'var', 'log', 'test-packaging.log')
GEN_README = os.path.join(ROOT, 'scripts', 'gen_readme.py')
README = os.path.join(ROOT, 'account_webhook', 'README.rst')


def run(cmd, timeout, **kwargs):
    """``cmd`` with its output appended to LOG (see pgtools.run_group)."""
    with open(LOG, 'ab') as log:
        log.write(('\n$ %s\n' % ' '.join(cmd)).encode())
        log.flush()
        return run_group(cmd, timeout, stdout=log, **kwargs)


def tail(lines=40):
    with open(LOG, 'rb') as log:
        return b''.join(log.readlines()[-lines:]).decode('utf-8', 'replace')


def check(cmd, timeout, **kwargs):
    code = run(cmd, timeout, **kwargs)
    assert code == 0, '%s failed (exit %s); end of %s:\n%s' % (cmd[:4], code, LOG, tail())


def clean_build_dirs():
    """setuptools builds in the source folder: a stale build/lib would end up in the next wheel."""
    shutil.rmtree(os.path.join(SETUP_DIR, 'build'), ignore_errors=True)
    for egg_info in glob.glob(os.path.join(SETUP_DIR, '*.egg-info')):
        shutil.rmtree(egg_info, ignore_errors=True)


@pytest.fixture
def workdir(tmp_path):
    os.makedirs(os.path.dirname(LOG), exist_ok=True)
    open(LOG, 'w').close()
    yield tmp_path
    clean_build_dirs()


@pytest.fixture
def database():
    with template_copy('awh_pkg_wheel_%d' % os.getpid()) as name:
        yield name


def build_wheel(outdir):
    clean_build_dirs()
    check([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-cache-dir', '-w', str(outdir), SETUP_DIR], 300)
    wheels = glob.glob(os.path.join(str(outdir), '*.whl'))
    assert len(wheels) == 1, wheels
    return wheels[0]


def scratch_venv(path):
    """A virtualenv whose python also sees .venv's site-packages (Odoo), after its own."""
    check([sys.executable, '-m', 'venv', str(path)], 120)
    python = os.path.join(str(path), 'bin', 'python')
    own = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                         stdout=subprocess.PIPE, check=True, timeout=60).stdout.decode().strip()
    with open(os.path.join(own, 'project-venv.pth'), 'w') as pth:
        pth.write(sysconfig.get_paths()['purelib'] + '\n')
    return python, own


def wheel_config(path):
    """var/odoo.conf with Odoo's own addons as the only addons path."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CONFIG)
    odoo_addons = os.path.join(sysconfig.get_paths()['purelib'], 'odoo', 'addons')
    parser['options']['addons_path'] = odoo_addons
    with open(str(path), 'w') as out:
        parser.write(out)
    return str(path), odoo_addons


WHERE = """
import sys
sys.path.insert(0, %(root)r)
import odoo_compat
odoo_compat.install()
import odoo
odoo_compat.patch_odoo()
odoo.tools.config.parse_config(['-c', %(config)r])
from odoo.modules.module import get_module_path, initialize_sys_path
initialize_sys_path()
import odoo.addons.account_webhook as addon
print(get_module_path('account_webhook'))
print(addon.__file__)
"""


def test_wheel_installs_and_serves_the_addon_without_this_repository(workdir, database):
    started = time.time()
    wheel = build_wheel(workdir / 'dist')
    name = os.path.basename(wheel)
    assert name.startswith('odoo11_addon_account_webhook-11.0.') and name.endswith('-py3-none-any.whl'), name

    python, site = scratch_venv(workdir / 'venv')
    check([python, '-m', 'pip', 'install', '--no-deps', '--no-cache-dir', wheel], 300)

    # What the wheel put there: the addon under the odoo/addons namespace (no namespace __init__.py of
    # its own that would hide Odoo's), and its dependencies declared.
    installed = os.path.join(site, 'odoo', 'addons', 'account_webhook')
    assert os.path.isfile(os.path.join(installed, '__manifest__.py'))
    for data_file in ('views/webhook_callback_views.xml', 'security/ir.model.access.csv', 'i18n/lt.po'):
        assert os.path.isfile(os.path.join(installed, data_file)), data_file
    assert not os.path.exists(os.path.join(site, 'odoo', '__init__.py'))
    assert not os.path.exists(os.path.join(site, 'odoo', 'addons', '__init__.py'))
    (dist_info,) = glob.glob(os.path.join(site, 'odoo11_addon_account_webhook-*.dist-info'))
    with open(os.path.join(dist_info, 'METADATA')) as metadata:
        requires = email.parser.Parser().parse(metadata).get_all('Requires-Dist')
    assert sorted(r.replace(' ', '') for r in requires) == ['odoo<11.1dev,>=11.0a', 'psycopg2'], requires

    config, odoo_addons = wheel_config(workdir / 'odoo.conf')
    # (Odoo's own addons live in .venv, inside this checkout, but the addon is not among them)
    assert odoo_addons != ROOT and not os.path.exists(os.path.join(odoo_addons, 'account_webhook'))

    # Odoo, started with the scratch virtualenv's python, finds the addon in the wheel's files.
    where = subprocess.run([python, '-c', WHERE % {'root': ROOT, 'config': config}], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
    assert where.returncode == 0, where.stderr.decode()[-3000:]
    module_path, module_file = where.stdout.decode().split()[-2:]
    assert module_path == installed, module_path
    assert module_file == os.path.join(installed, '__init__.py'), module_file

    check([python, LAUNCHER, '-c', config, '-d', database, '-i', 'account_webhook', '--without-demo=all',
           '--log-level=warn', '--stop-after-init'], 600)
    state = sql(database, "SELECT state, latest_version FROM ir_module_module WHERE name = 'account_webhook'")
    assert state[0][0] == 'installed', state
    assert sql(database, "SELECT count(*) FROM ir_model WHERE model = 'webhook.callback'")[0][0] == 1
    print('wheel built, installed and the addon installed from it in %.0f s' % (time.time() - started))


def test_readme_is_generated_from_its_fragments():
    """README.rst (the wheel's long description, the addon's page on GitHub) is what
    scripts/gen_readme.py makes of readme/*.rst and the manifest, in OCA's layout, and renders
    without a warning: edit the fragments, then run the script."""
    result = subprocess.run([sys.executable, GEN_README, '--check'], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=60)
    assert result.returncode == 0, result.stdout.decode()[-3000:]
    with open(README, encoding='utf-8') as readme:
        text = readme.read()
    for title in ('Configuration', 'Usage', 'Known issues / Roadmap', 'Changelog', 'Bug Tracker', 'Credits'):
        assert '\n%s\n%s\n' % (title, '=' * len(title)) in text, title
    # as PyPI and OCA's tool render it: any warning (level 2) raises
    docutils.core.publish_string(text, writer='html4css1', settings_overrides={
        'report_level': 2, 'halt_level': 2, 'file_insertion_enabled': False, 'raw_enabled': False})
