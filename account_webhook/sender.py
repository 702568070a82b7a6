# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Outbound HTTP, in one place: a pooled ``requests`` session that refuses private targets.

SSRF guard: the host of each new connection is resolved once; if any of its addresses is
loopback, private, link-local (169.254.169.254 included), CGNAT, multicast, reserved or
otherwise not global, the connection is refused, unless the administrator allowed that
host name, address or network (system parameter ``account_webhook.allowed_targets``,
comma-separated). The socket then connects to an address that was checked: there is no
second lookup for DNS rebinding to change. Redirects are not followed, proxies from the
environment are not used, and every request has a connect and a total timeout.
"""
import datetime
import email.utils
import ipaddress
import socket
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import Timeout

EXCERPT_BYTES = 4096
USER_AGENT = 'account_webhook (Odoo 11)'


class BlockedTarget(NewConnectionError):
    """The target address is not allowed (SSRF guard)."""

    def __init__(self, conn, message):
        super(BlockedTarget, self).__init__(conn, message)
        self.reason_text = message


class TargetPolicy(object):
    """Which addresses outbound requests may connect to."""

    def __init__(self, allowed=''):
        self.hosts = set()
        self.networks = []
        for item in (allowed or '').split(','):
            item = item.strip().lower()
            if not item:
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.hosts.add(item.rstrip('.'))

    @staticmethod
    def _public(address):
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)

    def addresses(self, host, port):
        """The checked ``getaddrinfo`` entries for ``host``; raises ValueError with the reason."""
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        if host.lower().rstrip('.') in self.hosts:
            return infos
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split('%')[0])
            if not self._public(address) and not any(address in net for net in self.networks):
                raise ValueError('%s resolves to %s, which is not a public address; an administrator can '
                                 'allow it in the system parameter account_webhook.allowed_targets'
                                 % (host, address))
        return infos


class _CheckedConnectionMixin(object):
    policy = None

    def _new_conn(self):
        try:
            infos = self.policy.addresses(self._dns_host, self.port)
        except ValueError as error:
            raise BlockedTarget(self, str(error)) from None
        except socket.gaierror as error:
            raise NewConnectionError(self, 'cannot resolve %s: %s' % (self._dns_host, error)) from None
        last_error = None
        for family, socktype, proto, _canonname, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                sock.settimeout(self.timeout if isinstance(self.timeout, (int, float)) else None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.connect(sockaddr)
                return sock
            except socket.timeout:
                sock.close()
                raise ConnectTimeoutError(self, 'connection to %s timed out' % self.host) from None
            except OSError as error:
                sock.close()
                last_error = error
        raise NewConnectionError(self, 'cannot connect to %s: %s' % (self.host, last_error))


def _guarded_adapter(policy):
    http_conn = type('CheckedHTTPConnection', (_CheckedConnectionMixin, HTTPConnection), {'policy': policy})
    https_conn = type('CheckedHTTPSConnection', (_CheckedConnectionMixin, HTTPSConnection), {'policy': policy})
    http_pool = type('CheckedHTTPConnectionPool', (HTTPConnectionPool,), {'ConnectionCls': http_conn})
    https_pool = type('CheckedHTTPSConnectionPool', (HTTPSConnectionPool,), {'ConnectionCls': https_conn})

    class CheckedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super(CheckedAdapter, self).init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {'http': http_pool, 'https': https_pool}
    return CheckedAdapter(pool_connections=16, pool_maxsize=16, max_retries=0)


def new_session(allowed_targets=''):
    """A pooled session whose connections pass the SSRF guard."""
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc from the environment
    adapter = _guarded_adapter(TargetPolicy(allowed_targets))
    session.mount('http://', adapter)
    session.mount('https://', adapter)
    session.headers.update({'User-Agent': USER_AGENT})
    return session


class Result(object):
    """What one POST gave: a status code, or an error (``blocked``: refused by the guard)."""

    def __init__(self, status_code=None, excerpt='', error=None, blocked=False, retry_after=None, duration_ms=0):
        self.status_code = status_code
        self.excerpt = excerpt
        self.error = error
        self.blocked = blocked
        self.retry_after = retry_after
        self.duration_ms = duration_ms

    @property
    def ok(self):
        return self.status_code is not None and 200 <= self.status_code < 300


def _blocked_reason(error):
    reason = error
    while reason is not None:
        if isinstance(reason, BlockedTarget):
            return reason.reason_text
        reason = getattr(reason, 'reason', None) or (reason.args[0] if getattr(reason, 'args', None)
                                                    and isinstance(reason.args[0], Exception) else None)
    return None


def post(session, url, body, headers, connect_timeout, total_timeout):
    """POST ``body`` (bytes) as JSON; never raises for network trouble, returns a Result."""
    start = time.monotonic()
    headers = dict(headers, **{'Content-Type': 'application/json'})
    try:
        response = session.post(url, data=body, headers=headers, allow_redirects=False, stream=True,
                                timeout=Timeout(connect=connect_timeout, total=total_timeout))
        try:
            excerpt = b''
            for chunk in response.iter_content(1024):
                if time.monotonic() - start > total_timeout:
                    raise requests.Timeout('the response took longer than %ss' % total_timeout)
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
        finally:
            response.close()
        return Result(response.status_code, excerpt[:EXCERPT_BYTES].decode('utf-8', 'replace'),
                      retry_after=response.headers.get('Retry-After'), duration_ms=_ms(start))
    except requests.Timeout as error:
        return Result(error='timeout: %s' % (error,), duration_ms=_ms(start))
    except requests.ConnectionError as error:
        blocked = _blocked_reason(error)
        if blocked:
            return Result(error='refused: %s' % blocked, blocked=True, duration_ms=_ms(start))
        return Result(error='connection error: %s' % (error,), duration_ms=_ms(start))
    except requests.RequestException as error:
        return Result(error='request error: %s' % (error,), duration_ms=_ms(start))


def _ms(start):
    return int((time.monotonic() - start) * 1000)


def retry_after_seconds(value, now=None):
    """Seconds from a Retry-After header (delay-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return max(0, int((moment - now).total_seconds()))
