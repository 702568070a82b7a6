# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Fixtures for the stack-level tests: a real Odoo HTTP server, Odoo in production mode behind
nginx, and a real Chromium."""
import atexit
import os
import shutil
import signal
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
               '--http-port=%d' % self.port, '--logfile=%s' % self.log_path,
               '--load=%s' % SERVER_WIDE_MODULES] + list(extra_args)
        env = dict(os.environ)
        if not dispatch:  # a plain HTTP server: no dispatcher thread, no cron
            env['ACCOUNT_WEBHOOK_NO_DISPATCHER'] = '1'
            cmd.append('--max-cron-threads=0')
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        open(self.log_path, 'w').close()  # a port used before: not its old "Modules loaded."
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self._wait_ready()

    def _wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        # No request before the -d database has loaded: Odoo 11's threaded server imports every
        # addon's controllers on the first request, which races with that load on Python 3.
        while time.time() < deadline and not self._log_says('odoo.modules.loading: Modules loaded.'):
            if self.process.poll() is not None:
                raise RuntimeError('Odoo exited (%s); see %s' % (self.process.returncode, self.log_path))
            time.sleep(0.2)
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

    def _log_says(self, text):
        try:
            with open(self.log_path) as log:
                return text in log.read()
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


NGINX_TEMPLATE = os.path.join(ROOT, 'scripts', 'nginx.conf.in')
SERVER_WIDE_MODULES = 'base,web,account_webhook'


def render_nginx_conf(listen, odoo_http_port, longpolling_port):
    """scripts/nginx.conf.in with its placeholders filled (as scripts/run.sh does with sed)."""
    with open(NGINX_TEMPLATE) as template:
        text = template.read()
    return (text.replace('@LISTEN@', str(listen)).replace('@ODOO_HTTP_PORT@', str(odoo_http_port))
            .replace('@ODOO_LONGPOLLING_PORT@', str(longpolling_port)))


def _group_members(pgid):
    """Processes of process group ``pgid`` that are still running (zombies do not count)."""
    import psutil
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (OSError, psutil.Error):
            pass
    return members


def _kill_group(process, timeout):
    """SIGTERM the process group that ``process`` leads (started with start_new_session=True),
    SIGKILL whatever is left of it after ``timeout`` seconds, and return once none of it runs."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.time() + 10
    while _group_members(process.pid) and time.time() < deadline:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        pass


_live_servers = set()


@atexit.register
def _stop_live_servers():  # an interrupted session leaves no server behind either
    for server in list(_live_servers):
        server.stop()


class ProductionServer(object):
    """Odoo in production mode, as `WORKERS=N make run` serves it: the prefork master with its HTTP
    workers, cron workers and gevent longpolling process on free ports of 127.0.0.1, behind nginx
    configured from scripts/nginx.conf.in (on a free port too).

    ``url`` is nginx, ``odoo_url`` the HTTP workers, ``longpolling_url`` the gevent process;
    ``process``/``pid`` the master, ``log_path`` Odoo's log, ``nginx_prefix`` nginx's logs/.
    The master runs in its own session, so ``stop()`` ends its workers and gevent process too.
    Ready once /web/login answers 200 through nginx and (unless ``wait_longpolling`` is false) the
    gevent process accepts connections: the web client waits 10-30 s to poll again after a failed poll.
    """

    def __init__(self, config, database, workers=2, max_cron=1, extra_args=(), dispatch=True, env=None,
                 timeout=120, wait_longpolling=True):
        self.database = database
        self.workers, self.max_cron = workers, max_cron
        self.http_port, self.longpolling_port, self.port = free_port(), free_port(), free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.odoo_url = 'http://127.0.0.1:%d' % self.http_port
        self.longpolling_url = 'http://127.0.0.1:%d' % self.longpolling_port
        self.log_path = os.path.join(ROOT, 'var', 'log', 'test-server-%d.log' % self.http_port)
        self.nginx_prefix = os.path.join(ROOT, 'var', 'nginx', 'test-%d' % self.port)
        self.process = self.nginx = None
        _live_servers.add(self)
        try:
            self._start_odoo(config, extra_args, dispatch, env)
            self._start_nginx()
            self._wait_ready(timeout, wait_longpolling)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self):
        return self.process.pid

    def _start_odoo(self, config, extra_args, dispatch, env):
        cmd = [sys.executable, os.path.join(ROOT, 'scripts', 'odoo'), '-c', config, '-d', self.database,
               '--db-filter=^%s$' % self.database, '--workers=%d' % self.workers,
               '--max-cron-threads=%d' % self.max_cron, '--http-interface=127.0.0.1',
               '--http-port=%d' % self.http_port, '--longpolling-port=%d' % self.longpolling_port,
               '--proxy-mode', '--load=%s' % SERVER_WIDE_MODULES,
               '--logfile=%s' % self.log_path] + list(extra_args)
        environ = dict(os.environ)
        environ.update(env or {})
        if not dispatch:
            environ['ACCOUNT_WEBHOOK_NO_DISPATCHER'] = '1'
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environ,
                                        start_new_session=True)

    def _start_nginx(self):
        nginx = shutil.which('nginx') or '/usr/sbin/nginx'
        shutil.rmtree(self.nginx_prefix, ignore_errors=True)
        for folder in ('logs', 'tmp'):
            os.makedirs(os.path.join(self.nginx_prefix, folder))
        conf = os.path.join(self.nginx_prefix, 'nginx.conf')
        with open(conf, 'w') as out:
            out.write(render_nginx_conf('127.0.0.1:%d' % self.port, self.http_port, self.longpolling_port))
        with open(os.path.join(self.nginx_prefix, 'logs', 'stderr.log'), 'wb') as stderr:
            self.nginx = subprocess.Popen([nginx, '-p', self.nginx_prefix, '-c', conf, '-g', 'daemon off;'],
                                          stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)

    def _check_alive(self):
        if self.process.poll() is not None:
            raise RuntimeError('Odoo exited (%s); see %s' % (self.process.returncode, self.log_path))
        if self.nginx.poll() is not None:
            raise RuntimeError('nginx exited (%s); see %s/logs' % (self.nginx.returncode, self.nginx_prefix))

    def _wait_ready(self, timeout, wait_longpolling):
        deadline = time.time() + timeout
        login_ok = False
        while time.time() < deadline:
            self._check_alive()
            try:
                if not login_ok:
                    with urllib.request.urlopen(self.url + '/web/login', timeout=30) as response:
                        login_ok = response.status == 200
                if login_ok and wait_longpolling:
                    socket.create_connection(('127.0.0.1', self.longpolling_port), timeout=5).close()
                if login_ok:
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError('Odoo in production mode did not answer through nginx in %ss; see %s'
                           % (timeout, self.log_path))

    def children(self):
        """The master's live child processes (HTTP and cron workers, the gevent process)."""
        import psutil
        try:
            return psutil.Process(self.pid).children()
        except psutil.NoSuchProcess:
            return []

    def stop(self):
        """Stop nginx and Odoo: SIGTERM, SIGKILL after a bound, and no worker nor gevent process left."""
        _live_servers.discard(self)
        if self.nginx is not None:
            _kill_group(self.nginx, 10)
        if self.process is not None:
            _kill_group(self.process, 20)


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


@pytest.fixture(scope='module')
def production_server(request, odoo_db):
    """Odoo in production mode behind nginx (2 HTTP workers, 1 cron worker, the longpolling
    process, the dispatcher), module-scoped like product_server."""
    server = ProductionServer(request.config.getoption('--odoo-config'), odoo_db)
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
    """An integrator's XML-RPC client: xmlrpc.client only (``timeout``: seconds per call, optional)."""

    def __init__(self, url, db, login, password, timeout=None):
        import xmlrpc.client
        self.db, self.password = db, password
        transport = _TimeoutTransport(timeout) if timeout else None
        self.uid = xmlrpc.client.ServerProxy(url + '/xmlrpc/2/common', transport=transport).authenticate(
            db, login, password, {})
        assert self.uid, 'XML-RPC login failed for %s' % login
        transport = _TimeoutTransport(timeout) if timeout else None
        self.models = xmlrpc.client.ServerProxy(url + '/xmlrpc/2/object', allow_none=True, transport=transport)

    def __call__(self, model, method, *args, **kwargs):
        return self.models.execute_kw(self.db, self.uid, self.password, model, method, list(args), kwargs)

    def ref(self, xmlid):
        return self('ir.model.data', 'xmlid_to_res_id', xmlid)


def _TimeoutTransport(timeout):
    import xmlrpc.client

    class TimeoutTransport(xmlrpc.client.Transport):
        def make_connection(self, host):
            connection = super().make_connection(host)
            connection.timeout = timeout
            return connection
    return TimeoutTransport()


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
