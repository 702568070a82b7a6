# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the dispatcher reads before it claims: the settings, the active callbacks, the endpoints'
circuit breakers and whether the database is held, in one round trip (``read_state``); and
``run``, which prepares the hot statements of a cycle once per connection.

Every module of the runtime's SQL (state, claiming, recording, outbox) takes a database cursor (a
psycopg2 cursor of the runtime, or an Odoo cursor in tests and actions) and neither commits nor
needs a registry: the runtime runs where no Odoo registry is loaded (the prefork master's child,
the ``webhook-dispatch`` command).
"""
import logging
import re
from collections import namedtuple

from .. import params as parameters

_logger = logging.getLogger(__name__)

NOW = "(statement_timestamp() at time zone 'UTC')"  # not now(): a long transaction's start
LEASE_MARGIN = 3  # seconds a lease outlasts the longest request it covers
_reported = set()


def report_once(message, *args):
    """Log a warning the first time only (a bad parameter, a held database: every cycle sees it)."""
    if (message, args) not in _reported:
        _reported.add((message, args))
        _logger.warning(message, *args)


_PLACEHOLDER = re.compile(r'%\((\w+)\)s|%%')


def run(cr, name, sql, params=None):
    """Execute ``sql`` (``%(name)s`` placeholders). On the dispatcher's own connections (see
    ``engine.Connection``) it is PREPAREd once per connection: the hot statements of a cycle are
    then not planned again on every call. Elsewhere (Odoo cursors) it is a plain execute."""
    prepared = getattr(getattr(cr, 'connection', None), 'account_webhook_prepared', None)
    if prepared is None:
        cr.execute(sql, params or {})
        return
    if name not in prepared:
        order = []

        def placeholder(match):
            if match.group(0) == '%%':
                return '%'
            if match.group(1) not in order:
                order.append(match.group(1))
            return '$%d' % (order.index(match.group(1)) + 1)
        # pylint: disable-next=sql-injection  # name and sql are this module's constants; values go as $n
        cr.execute('PREPARE account_webhook_%s AS %s' % (name, _PLACEHOLDER.sub(placeholder, sql)))
        prepared[name] = order
    order = prepared[name]
    cr.execute('EXECUTE account_webhook_%s%s' % (name, '(%s)' % ', '.join(['%s'] * len(order)) if order else ''),
               tuple(params[key] for key in order))


class Settings(object):
    """The ``account_webhook.*`` system parameters, parsed and within their bounds (``params``); a
    bad stored value is reported once and its default used."""

    def __init__(self, params):
        for key, value in parameters.read(params, lambda message: report_once('%s', message)).items():
            setattr(self, key, value)
        self.timeouts = (self.timeout_connect, self.timeout_total)
        # a claimed delivery is sent again only when its sender died: the lease outlasts the request
        self.lease = max(self.lease_seconds, self.timeout_connect + self.timeout_total + LEASE_MARGIN)


# the database the addon runs in, its database.uuid and its name (set at install, by the upgrade to
# 11.0.3.0.0 and when an administrator decides that a copy keeps sending)
REMEMBERED_UUID = 'account_webhook.database_uuid'
REMEMBERED_NAME = 'account_webhook.database_name'


# an active callback, as the claims need it
Callback = namedtuple('Callback', 'id url endpoint rate_limit max_in_flight batch_size')


class State(object):
    """What a cycle needs to know, read in one round trip: settings, active callbacks, breakers,
    and whether the database is held."""

    def __init__(self, params, callbacks, breakers, database_uuid=None, database=None):
        params = params or {}
        self.settings = Settings({key[len('account_webhook.'):]: value for key, value in params.items()})
        # Odoo's Duplicate and a restore as a copy give a database a new database.uuid, at the end
        # of the copy; its name differs from the start (a renamed database counts as a copy too):
        # a copy (staging, tests) sends nothing until an administrator decides (webhook.copy.decision)
        self.database, self.database_uuid = database, database_uuid
        self.remembered_uuid, self.remembered_name = params.get(REMEMBERED_UUID), params.get(REMEMBERED_NAME)
        self.held = bool(database_uuid and self.remembered_uuid and database_uuid != self.remembered_uuid) or \
            bool(database and self.remembered_name and database != self.remembered_name)
        self.callbacks = [Callback(*row) for row in callbacks or []]
        self.failing = set()              # endpoints with failures in a row
        self.paused = {}                  # endpoint -> still cooling down (else: ready for one probe)
        for name, failures, cooling, paused in breakers or []:
            if failures:
                self.failing.add(name)
            if paused:
                self.paused[name] = cooling


def read_state(cr):
    run(cr, 'state', """
        SELECT (SELECT json_object_agg(key, value) FROM ir_config_parameter WHERE key LIKE 'account\\_webhook.%%'),
               (SELECT json_agg(json_build_array(id, url, endpoint, rate_limit, max_in_flight,
                                                 COALESCE(batch_size, 1)) ORDER BY id)
                  FROM webhook_callback WHERE active),
               (SELECT json_agg(json_build_array(name, consecutive_failures, paused_until > {now},
                                                 paused_until IS NOT NULL))
                  FROM webhook_endpoint WHERE consecutive_failures > 0 OR paused_until IS NOT NULL),
               (SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'), current_database()
    """.format(now=NOW))
    return State(*cr.fetchone())


def read_settings(cr):
    """The settings alone (housekeeping, actions)."""
    return read_state(cr).settings
