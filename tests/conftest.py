"""Fixtures for the stack-level tests: a real Odoo HTTP server and a real Chromium."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTIFACTS = os.path.join(ROOT, 'test-artifacts')
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class OdooServer(object):
    """An Odoo process serving the test database over HTTP on a free port of 127.0.0.1."""

    def __init__(self, config, database, extra_args=(), dispatch=False):
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.database = database
        self.log_path = os.path.join(ROOT, 'var', 'log', 'test-server-%d.log' % self.port)
        cmd = [sys.executable, os.path.join(ROOT, 'scripts', 'odoo'), '-c', config, '-d', database,
               '--db-filter=^%s$' % database, '--http-interface=127.0.0.1',
               '--http-port=%d' % self.port, '--logfile=%s' % self.log_path] + list(extra_args)
        env = dict(os.environ)
        if not dispatch:  # a plain HTTP server: no dispatcher thread, no cron
            env['ACCOUNT_WEBHOOK_NO_DISPATCHER'] = '1'
            cmd.append('--max-cron-threads=0')
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self._wait_ready()

    def _wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('Odoo exited (%s); see %s' % (self.process.returncode, self.log_path))
            try:
                with urllib.request.urlopen(self.url + '/web/login', timeout=30) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError('Odoo did not answer in %ss; see %s' % (timeout, self.log_path))

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope='session')
def odoo_db(request):
    return request.config.getoption('--odoo-database')


@pytest.fixture(scope='session')
def odoo_server(request, odoo_db):
    server = OdooServer(request.config.getoption('--odoo-config'), odoo_db)
    yield server
    server.stop()


@pytest.fixture(scope='module')
def product_server(request, odoo_db):
    """Odoo as `make run` serves it: HTTP, the dispatcher thread and the cron. Module-scoped: tests
    elsewhere that control dispatching themselves must not have it running."""
    server = OdooServer(request.config.getoption('--odoo-config'), odoo_db, dispatch=True)
    yield server
    server.stop()


@pytest.fixture(scope='session')
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path='/usr/bin/chromium', args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    """A fresh browser page that records JavaScript errors and leaves a screenshot behind."""
    context = chromium.new_context(viewport={'width': 1280, 'height': 900})
    page = context.new_page()
    page.js_errors = []
    page.on('pageerror', lambda error: page.js_errors.append(str(error)))
    page.on('console', lambda msg: msg.type == 'error' and page.js_errors.append(msg.text))
    yield page
    os.makedirs(ARTIFACTS, exist_ok=True)
    try:
        page.screenshot(path=os.path.join(ARTIFACTS, request.node.name + '.png'))
    finally:
        context.close()


def login(page, base_url, login_name='admin', password='admin'):
    page.goto(base_url + '/web/login')
    page.fill('input[name=login]', login_name)
    page.fill('input[name=password]', password)
    page.click('button[type=submit]')
    # the web client has started and shown its first action (Discuss for a new user)
    page.wait_for_selector('.o_web_client .o_main_content .o_control_panel', state='visible', timeout=60000)


class Rpc(object):
    """An integrator's XML-RPC client: xmlrpc.client only."""

    def __init__(self, url, db, login, password):
        import xmlrpc.client
        self.db, self.password = db, password
        self.uid = xmlrpc.client.ServerProxy(url + '/xmlrpc/2/common').authenticate(db, login, password, {})
        assert self.uid, 'XML-RPC login failed for %s' % login
        self.models = xmlrpc.client.ServerProxy(url + '/xmlrpc/2/object', allow_none=True)

    def __call__(self, model, method, *args, **kwargs):
        return self.models.execute_kw(self.db, self.uid, self.password, model, method, list(args), kwargs)

    def ref(self, xmlid):
        return self('ir.model.data', 'xmlid_to_res_id', xmlid)


@pytest.fixture(scope='session')
def admin_rpc(odoo_server):
    return Rpc(odoo_server.url, odoo_server.database, 'admin', 'admin')


@pytest.fixture(scope='session')
def accountant_rpc(odoo_server, admin_rpc):
    """A user of the Invoicing app (account.group_account_invoice), not a Settings administrator."""
    login = 'accountant-%d' % odoo_server.port
    admin_rpc('res.users', 'create', {
        'name': 'Accountant', 'login': login, 'password': 'accountant',
        'groups_id': [(6, 0, [admin_rpc.ref('account.group_account_invoice')])]})
    return Rpc(odoo_server.url, odoo_server.database, login, 'accountant')
