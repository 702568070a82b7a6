# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Outbound HTTP, in one place: keep-alive connections of the standard library's ``http.client``
that refuse private targets, pooled per endpoint and shared by the dispatcher's sender threads.

Why ``http.client`` in threads: the addon runs on Odoo 11's Python floor (3.5), where current
asyncio clients (aiohttp, httpx) do not install; a blocking request costs one thread, and on
the receivers' latencies that matter (tens of milliseconds) threads posting with
``http.client`` keep up with an asyncio client, at a fraction of the per-request cost of
``requests`` (see ``make bench``).

SSRF guard: the host of each new connection is resolved once; if any of its addresses is
loopback, private, link-local (169.254.169.254 included), CGNAT, multicast, reserved or
otherwise not global, the connection is refused, unless the administrator allowed that
host name, address or network (system parameter ``account_webhook.allowed_targets``,
comma-separated). The socket then connects to an address that was checked: there is no
second lookup for DNS rebinding to change. Redirects are not followed, proxies from the
environment are not used, and every request has a connect and a total timeout.
"""
import contextlib
import datetime
import email.utils
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

from . import signing

EXCERPT_BYTES = 4096
ANSWER_BYTES = 64 * 1024  # read of an answer the callback judges (its excerpt is kept)
TEXT_CHARS = 2000  # an error text kept on an attempt, at most
MAX_RETRY_AFTER = 86400  # a receiver asks for a pause of at most this many seconds
DEADLINE_GRACE = 0.5  # a request still running this long after its total timeout is cut
USER_AGENT = 'account_webhook (Odoo 11)'


def clean_text(value, limit=None):
    """What a receiver or the network said, safe to store: text (undecodable bytes replaced), no NUL
    (PostgreSQL refuses it) nor other control characters but tab and line breaks, at most ``limit``
    characters."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    elif not isinstance(value, str):
        value = str(value)
    value = ''.join(char if char >= ' ' or char in '\t\n\r' else '\ufffd' for char in value)
    return value[:limit] if limit else value


class BlockedTarget(OSError):
    """The target address is not allowed (SSRF guard)."""


class ConnectTimeout(OSError):
    """The connection was not established within the connect timeout."""


MAX_URL = 2048
MAX_HEADERS, MAX_HEADER_LINE, MAX_HEADERS_SIZE = 20, 4096, 8192  # a callback's extra headers, at most
_LABEL = re.compile(r'^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z')  # one DNS label
# what percent-encoding leaves as is in a path or query (RFC 3986's reserved and unreserved characters)
_URL_SAFE = "/?#[]@!$&'()*+,;=%:-._~"


def _(source):
    """Marks a message for translation: the callback's check translates it in the user's language."""
    return source


_BRACKETED = re.compile(r'^\[[0-9A-Fa-f:.]+\](:[0-9]*)?$')  # an IPv6 literal's netloc
_NUMERIC = re.compile(r'^(0x[0-9a-f]*|[0-9]+)$', re.IGNORECASE)
_OCTET = r'(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
_IPV4 = re.compile(r'^(%s\.){3}%s$' % (_OCTET, _OCTET))


def is_host_name(name):
    """Whether ``name`` (ASCII) is a host name: dot-separated DNS labels, at most 253 characters, and
    an optional final dot. Checked label by label (one pattern for a whole name backtracks
    exponentially on a long label that does not match)."""
    name = name[:-1] if name.endswith('.') else name
    return 1 <= len(name) <= 253 and all(_LABEL.match(label) for label in name.split('.'))


def _invisible(char):
    """A space, a line break or a control or format character (none of them belongs in a URL)."""
    return char <= ' ' or unicodedata.category(char) in ('Cc', 'Cf', 'Zs', 'Zl', 'Zp')


def checked_url(url):
    """``url`` as it is stored and sent: its host in ASCII (IDNA), its path and query
    percent-encoded where they were not ASCII. When it cannot be a receiver's URL, raises
    ValueError(message, values): ``_(message) % values`` says why."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(_('Callback URL: it is empty.'), ())
    if len(url) > MAX_URL:
        raise ValueError(_('Callback URL: it is longer than %s characters.'), MAX_URL)
    shown = ''.join('?' if _invisible(char) else char for char in url[:300])
    if any(_invisible(char) for char in url):
        raise ValueError(_('Callback URL: %s contains a space or a control character.'), shown)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a malformed port, or one above 65535
    except ValueError:
        raise ValueError(_('Callback URL: %s is not a valid URL.'), shown) from None
    if parts.scheme not in ('http', 'https'):
        raise ValueError(_('Callback URL: %s must start with http:// or https://.'), shown)
    if '@' in parts.netloc:
        raise ValueError(_('Callback URL: %s carries a user name or password; put credentials in Extra headers '
                           '(e.g. "Authorization: Basic ...").'), redacted_url(url))
    host = parts.hostname
    if not host:
        raise ValueError(_('Callback URL: %s has no host.'), shown)
    if port == 0:
        raise ValueError(_('Callback URL: %s: the port must be from 1 to 65535.'), shown)
    if parts.netloc.startswith('['):
        try:
            if not _BRACKETED.match(parts.netloc):  # nothing around it but a port; no zone (%25eth0)
                raise ValueError(host)
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(_('Callback URL: %s is not a valid URL.'), shown) from None
        netloc = '[%s]' % host + (':%d' % port if port is not None else '')
    else:
        try:
            ascii_host = host.encode('idna').decode('ascii')
        except UnicodeError:
            ascii_host = ''
        if not is_host_name(ascii_host):
            raise ValueError(_('Callback URL: %(url)s: %(host)s is not a valid host name.'),
                             {'url': shown, 'host': host})
        if _NUMERIC.match(ascii_host.rstrip('.').rsplit('.', 1)[-1]) and not _IPV4.match(ascii_host):
            # no top-level domain is a number: an IPv4 address, in its dotted-decimal form only (what
            # resolvers would read 0x7f.1 or 2130706433 as is not what an administrator sees)
            raise ValueError(_('Callback URL: %(url)s: %(host)s is not a valid IPv4 address (four numbers from 0 '
                               'to 255, separated by dots).'), {'url': shown, 'host': host})
        netloc = ascii_host + (':%d' % port if port is not None else '')
    checked = urlunsplit((parts.scheme, netloc, quote(parts.path, safe=_URL_SAFE),
                          quote(parts.query, safe=_URL_SAFE), quote(parts.fragment, safe=_URL_SAFE)))
    if len(checked) > MAX_URL:  # as it is stored and sent: percent-encoding makes a URL up to 9 times longer
        raise ValueError(_('Callback URL: it is longer than %s characters.'), MAX_URL)
    return checked


def redacted_url(url):
    """``url`` for logs and the chatter: no user name or password, query values masked."""
    parts = urlsplit(url or '')
    netloc = parts.netloc.rsplit('@', 1)[-1]
    query = '&'.join(item.split('=', 1)[0] + ('=***' if '=' in item else '') for item in parts.query.split('&')
                     if item) if parts.query else ''
    return urlunsplit((parts.scheme, netloc, parts.path, query, ''))


# link-local (169.254.0.0/16 holds most clouds' metadata service) and the other metadata addresses (AWS's
# IPv6 one, Alibaba's, Oracle's, Azure's wire server): refused for every host, an allow-listed host name
# included; only an allow-listed network that contains one allows it
METADATA = [ipaddress.ip_network(net) for net in ('169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254/128',
                                                  '100.100.100.200/32', '192.0.0.192/32', '168.63.129.16/32')]
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64's well-known prefix, the deprecated
# IPv4-compatible addresses), and NAT64's local-use prefix (not global, whatever Python's version says)
_NAT64 = [ipaddress.ip_network(net) for net in ('64:ff9b::/96', '::/96')]
_LOCAL_NAT64 = ipaddress.ip_network('64:ff9b:1::/48')


def embedded_ipv4(address):
    """``(ipv4, same)``: the IPv4 address an IPv6 ``address`` leads to (IPv4-mapped, NAT64 and
    IPv4-compatible: ``same``, the address stands for it; 6to4 and Teredo: a tunnel to it), or
    ``(None, False)``."""
    if address.version == 6:
        if address.ipv4_mapped:
            return address.ipv4_mapped, True
        if any(address in net for net in _NAT64) and int(address) > 1:  # not :: nor ::1
            return ipaddress.IPv4Address(int(address) & 0xffffffff), True
        if address.sixtofour:
            return address.sixtofour, False
        if address.teredo:
            return address.teredo[1], False
    return None, False


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
        if address.version == 6 and address in _LOCAL_NAT64:
            return False
        return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)

    @staticmethod
    def _within(address, networks):
        return any(net.version == address.version and address in net for net in networks)

    def addresses(self, host, port):
        """The checked ``getaddrinfo`` entries for ``host``; raises ValueError with the reason.

        An address (and the IPv4 address an IPv6 one embeds) passes when an allow-listed network
        contains it; else a link-local or metadata address never passes; else an allow-listed host
        name passes; else it must be public."""
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        named = host.lower().rstrip('.') in self.hosts
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split('%')[0])
            inner, same = embedded_ipv4(address)
            seen = [address] + ([inner] if inner is not None else [])
            if any(self._within(each, self.networks) for each in seen):
                continue
            if any(self._within(each, METADATA) for each in seen):
                raise ValueError('%s resolves to %s, a link-local or cloud metadata address, which is not a public '
                                 'address; only a network listed in the system parameter '
                                 'account_webhook.allowed_targets that contains it allows it' % (host, address))
            if named:
                continue
            if not all(self._public(each) for each in (seen[1:] if same else seen)):
                raise ValueError('%s resolves to %s, which is not a public address; an administrator can '
                                 'allow it in the system parameter account_webhook.allowed_targets'
                                 % (host, address))
        return infos


# a header name is an HTTP token (RFC 9110, 5.6.2)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# what a callback's own headers may not set: the signature, the body's framing, the target
RESERVED_HEADERS = ('content-type', 'content-length', 'host', 'transfer-encoding', 'connection')
RESERVED_PREFIX = 'webhook-'


def header_lines(text, strict=False):
    """``(name, value as written)`` of each non-blank ``Name: value`` line of a callback's headers;
    a line without a colon is skipped, or with ``strict`` raises ValueError."""
    for line in (text or '').split('\n'):
        line = line[:-1] if line.endswith('\r') else line
        if not line.strip():
            continue
        if ':' not in line:
            if strict:
                raise ValueError(line)
            continue
        name, value = line.split(':', 1)
        yield name.strip(), value


def parse_headers(text):
    """``[(name, value), ...]`` to send (the callback's validation refused bad lines before they were stored)."""
    return [(name, value.strip()) for name, value in header_lines(text)]


def endpoint_of(url):
    """``scheme://host:port`` of ``url``: what per-endpoint limits and circuit breakers are keyed on."""
    parts = urlsplit(url or '')
    scheme = (parts.scheme or 'http').lower()
    try:
        port = parts.port or (443 if scheme == 'https' else 80)
    except ValueError:  # a malformed port: the callback's URL check reports it
        return '%s://%s' % (scheme, parts.netloc.lower())
    host = (parts.hostname or '').lower()
    return '%s://%s:%d' % (scheme, '[%s]' % host if ':' in host else host, port)


def _checked_socket(policy, host, port, timeout):
    """A socket connected to a checked address of ``host``."""
    try:
        infos = policy.addresses(host, port)
    except ValueError as error:
        raise BlockedTarget(str(error)) from None
    except socket.gaierror as error:
        raise OSError('cannot resolve %s: %s' % (host, error)) from None
    last_error = None
    for family, socktype, proto, _canonname, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(sockaddr)
            return sock
        except socket.timeout:
            sock.close()
            raise ConnectTimeout('connection to %s timed out after %ss' % (host, timeout)) from None
        except OSError as error:
            sock.close()
            last_error = error
    raise OSError('cannot connect to %s: %s' % (host, last_error))


class _CheckedHTTPConnection(http.client.HTTPConnection):
    policy = None

    def connect(self):
        self.sock = _checked_socket(self.policy, self.host, self.port, self.timeout)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    policy = None

    def connect(self):
        sock = _checked_socket(self.policy, self.host, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Connections(object):
    """Idle keep-alive connections per endpoint, for any number of threads; all pass the guard."""

    def __init__(self, allowed_targets='', max_idle=16):
        self.allowed_targets = allowed_targets
        self.policy = TargetPolicy(allowed_targets)
        self.max_idle = max_idle
        self._idle = {}
        self._lock = threading.Lock()
        self._tls = ssl.create_default_context()

    def get(self, url, fresh=False):
        """``(connection, reused)`` for ``url``'s endpoint; a new one is connected on first use (and
        with ``fresh``)."""
        key = endpoint_of(url)
        with self._lock:
            idle = self._idle.get(key)
            if idle and not fresh:
                return idle.pop(), True
        parts = urlsplit(url)
        # the port given apart: http.client would read an IPv6 host's last group as its port
        if parts.scheme == 'https':
            connection = _CheckedHTTPSConnection(parts.hostname, parts.port or 443, context=self._tls)
        else:
            connection = _CheckedHTTPConnection(parts.hostname, parts.port or 80)
        connection.policy = self.policy
        return connection, False

    def put(self, url, connection):
        key = endpoint_of(url)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle:
                idle.append(connection)
                return
        connection.close()

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


class Handle(object):
    """What a request in flight is using, so that the dispatcher can cut it at its deadline."""

    def __init__(self):
        self.connection = None

    def abort(self):
        sock = getattr(self.connection, 'sock', None)
        if sock is not None:
            # the request may have ended (and its socket closed) in the meantime: nothing to cut
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Result(object):
    """What one POST gave: a status code, or an error (``blocked``: refused by the guard)."""

    def __init__(self, status_code=None, excerpt='', error=None, blocked=False, retry_after=None, duration_ms=0,
                 answer=None):
        # whatever the receiver answered, what is kept fits the attempt's columns
        self.status_code = status_code if isinstance(status_code, int) and 100 <= status_code <= 999 else (
            None if status_code is None else 0)
        self.excerpt = clean_text(excerpt, EXCERPT_BYTES) or ''
        self.error = clean_text(error, TEXT_CHARS)
        if self.status_code == 0 and not self.error:
            self.error = 'invalid answer: status %s' % clean_text(repr(status_code), 100)
        self.blocked = blocked
        self.retry_after = clean_text(retry_after, 100)
        self.duration_ms = max(0, min(int(duration_ms or 0), 2 ** 31 - 1))
        self.answer = answer  # the answer's body as read (bytes, at most what the caller asked): not stored
        self.refused = False  # a 2xx answer that broke the callback's answer rule (see refuse)
        self.receiver_id = None  # the id the receiver gave the record, when the callback asks for it

    def refuse(self, message):
        """The receiver answered 2xx but said no (the callback's answer rule): a failed attempt with
        its message, retried on the schedule; not an endpoint failure (it answered)."""
        self.refused = True
        self.error = clean_text('refused by the receiver: %s' % message, TEXT_CHARS)

    @property
    def ok(self):
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.refused

    @property
    def endpoint_down(self):
        """A failure that counts against the endpoint's circuit breaker: timeout, connection, 5xx."""
        return (self.error is not None and not self.blocked and not self.refused) or (self.status_code or 0) >= 500


# a reused keep-alive connection the receiver closed meanwhile: the request never reached it
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def post(connections, url, body, headers, connect_timeout, total_timeout, handle=None, method='POST',
         answer_bytes=EXCERPT_BYTES):
    """Send ``body`` (bytes) as JSON (by POST, or ``method``); never raises for network trouble,
    returns a Result (with up to ``answer_bytes`` of the answer's body as ``answer``)."""
    start = time.monotonic()
    deadline = start + total_timeout
    parts = urlsplit(url)
    path = (parts.path or '/') + ('?' + parts.query if parts.query else '')
    headers = dict(headers, **{'Content-Type': 'application/json'})
    if not any(name.lower() == 'user-agent' for name in headers):  # a callback may set its own
        headers['User-Agent'] = USER_AGENT
    # A receiver dripping its answer a byte at a time restarts the socket's timeout at each byte: the
    # request is cut at its deadline, by the dispatcher for the handles it gives (engine._cut_overdue),
    # else by a timer of its own (the test event, actions).
    timer = None
    if handle is None:
        handle = Handle()
        timer = threading.Timer(total_timeout + DEADLINE_GRACE, handle.abort)
        timer.daemon = True
        timer.start()
    try:
        return _post(connections, url, path, body, headers, connect_timeout, total_timeout, handle, start,
                     deadline, method, answer_bytes)
    finally:
        if timer is not None:
            timer.cancel()


def _post(connections, url, path, body, headers, connect_timeout, total_timeout, handle, start, deadline, method,
          answer_bytes):
    for attempt in range(2):
        # a reused connection the receiver closed meanwhile: once more, on a new connection
        connection, reused = connections.get(url, fresh=attempt > 0)
        handle.connection = connection
        try:
            if connection.sock is None:
                connection.timeout = min(connect_timeout, total_timeout)
                connection.connect()
            connection.sock.settimeout(max(0.001, deadline - time.monotonic()))
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            answer = response.read(max(answer_bytes, EXCERPT_BYTES))
        except BlockedTarget as error:
            connection.close()
            return Result(error='refused: %s' % error, blocked=True, duration_ms=_ms(start))
        except _STALE:
            connection.close()
            if reused and time.monotonic() < deadline:
                continue
            return _failure(start, deadline, 'connection error: the receiver closed the connection')
        except (socket.timeout, ConnectTimeout) as error:
            connection.close()
            return Result(error='timeout: %s' % (error or 'no answer within %ss' % total_timeout),
                          duration_ms=_ms(start))
        except (OSError, http.client.HTTPException, ValueError) as error:
            # ValueError: an answer http.client cannot parse (a status line or header it refuses)
            connection.close()
            return _failure(start, deadline, 'connection error: %s' % (error,))
        if response.isclosed() and not response.will_close:
            connections.put(url, connection)
        else:  # a longer body than we read, or the receiver closes: not reusable
            connection.close()
        return Result(response.status, answer[:EXCERPT_BYTES], retry_after=response.getheader('Retry-After'),
                      duration_ms=_ms(start), answer=answer if answer_bytes > EXCERPT_BYTES else None)


def _failure(start, deadline, error):
    if time.monotonic() >= deadline:  # cut at the deadline by the dispatcher
        error = 'timeout: no answer within %ss' % round(deadline - start, 3)
    return Result(error=error, duration_ms=_ms(start))


def _ms(start):
    return int((time.monotonic() - start) * 1000)


_DELAY_SECONDS = re.compile(r'^[0-9]{1,12}$')  # RFC 9110 10.2.3: delay-seconds = 1*DIGIT (ASCII)


def retry_after_seconds(value, now=None):
    """Seconds from a Retry-After header (delay-seconds or HTTP-date, RFC 9110), at most
    MAX_RETRY_AFTER; None when it is neither. Never raises, whatever the receiver sent."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip(' \t')
    if _DELAY_SECONDS.match(value):
        return min(int(value), MAX_RETRY_AFTER)
    if any(ord(char) > 127 for char in value):
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
        if moment is None:
            return None
        now = now or datetime.datetime.now(datetime.timezone.utc)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return max(0, min(int((moment - now).total_seconds()), MAX_RETRY_AFTER))
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def post_job(job, connections, settings, handle=None):
    """Sign and send one claimed request (a ``runtime.outbox.Job``: a delivery or a batch) with the
    timeouts of ``settings``, shaped and judged as its callback says; no transaction is needed, none
    should be open. A template that cannot be rendered for it fails it at once (nothing is sent)."""
    try:
        method, url, body = job.request()
    except ValueError as error:  # shaping.ShapeError: the template, not the receiver
        return Result(error='template: %s' % error, blocked=True)
    headers = dict(job.headers)  # never logged: they may carry credentials
    headers.update(signing.headers(job.keys, job.message_id, int(time.time()), body))
    judges = job.judges
    result = post(connections, url, body, headers, settings.timeout_connect, settings.timeout_total, handle=handle,
                  method=method, answer_bytes=ANSWER_BYTES if judges else EXCERPT_BYTES)
    if judges and result.ok:
        try:
            accepted, message, result.receiver_id = job.judge(result.status_code, result.answer)
        except ValueError as error:  # the rule cannot read this answer: a refusal that says why
            accepted, message = False, str(error)
        if not accepted:
            result.refuse(message or result.excerpt[:500] or 'the answer broke the answer rule')
    result.answer = None  # not kept past the judging
    return result
