# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The system parameters ``account_webhook.*``, in one place: each one's default and bounds.

Read by the dispatch runtime (``runtime.state.Settings``: a bad stored value is reported once and
the default used, the engine never stops on one) and checked when an administrator writes one
(``models/ir_config_parameter.py``: a bad value is refused with a message naming the parameter and
its bounds, nothing is saved). An empty value means the default.
"""
import ipaddress
import math
import re
from collections import OrderedDict

from .sender import _, is_host_name  # _: sender's marker of messages to translate

PREFIX = 'account_webhook.'
DEFAULT_SCHEDULE = '5,300,1800,7200,18000,36000,36000'  # seconds after attempts 1, 2, ...
MAX_SCHEDULE = 50  # retries at most
MAX_DELAY = 7 * 86400  # a week between two attempts, at most
# a number as written in ASCII: no "1_000", no other scripts' digits (Python versions read those differently)
NUMBER = re.compile(r'^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?$')


class Number(object):
    """A finite number within [low, high] (an integer with ``integer``); ``text``: how its bounds read."""

    def __init__(self, default, low, high, text, integer=False):
        self.default, self.low, self.high, self.text, self.integer = default, low, high, text, integer

    def bounds(self):
        return self.text, {'low': _plain(self.low), 'high': _plain(self.high)}

    def parse(self, text):
        if not isinstance(text, str) or not NUMBER.match(text.strip()):
            raise ValueError(self.bounds())
        number = float(text)
        if not math.isfinite(number) or not self.low <= number <= self.high or \
                (self.integer and number != int(number)):
            raise ValueError(self.bounds())
        return int(number) if self.integer else number


class Schedule(object):
    """A comma-separated list of seconds: the waits after failed attempts 1, 2, ..."""
    default = [float(item) for item in DEFAULT_SCHEDULE.split(',')]

    @staticmethod
    def bounds():
        return _('from 1 to %(most)s numbers of seconds from 0 to %(delay)s, separated by commas'), {
            'most': MAX_SCHEDULE, 'delay': MAX_DELAY}

    def parse(self, text):
        items = [item.strip() for item in text.split(',')]
        if not 1 <= len(items) <= MAX_SCHEDULE:
            raise ValueError(self.bounds())
        try:
            return [float(Number(0, 0, MAX_DELAY, '').parse(item)) for item in items]
        except ValueError:
            raise ValueError(self.bounds()) from None


class Targets(object):
    """Comma-separated host names, IP addresses or networks (CIDR) that may be private."""
    default = ''

    @staticmethod
    def bounds():
        return _('host names, IP addresses or networks (such as 10.0.0.0/8), separated by commas'), {}

    def parse(self, text):
        for item in text.split(','):
            item = item.strip()
            if not item:
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                if not is_host_name(item):
                    raise ValueError(self.bounds()) from None
        return text


class Flag(object):
    """On or off."""
    default = False
    ON, OFF = ('1', 'true', 'yes', 'on'), ('0', 'false', 'no', 'off')

    def bounds(self):
        return _('one of %s'), ', '.join(self.ON + self.OFF)

    def parse(self, text):
        if text.strip().lower() not in self.ON + self.OFF:
            raise ValueError(self.bounds())
        return text.strip().lower() in self.ON


SECONDS = _('a number of seconds from %(low)s to %(high)s')
REQUESTS = _('a whole number of requests from %(low)s to %(high)s')
DAYS = _('a number of days from %(low)s to %(high)s')
PARAMS = OrderedDict([  # name (after account_webhook.) -> its kind, default and bounds
    ('timeout_connect', Number(5.0, 0.1, 300, SECONDS)),
    ('timeout_total', Number(15.0, 0.1, 3600, SECONDS)),
    ('lease_seconds', Number(120.0, 1, 86400, SECONDS)),
    ('concurrency', Number(64, 1, 1024, REQUESTS, integer=True)),
    ('per_endpoint', Number(16, 1, 1024, REQUESTS, integer=True)),
    ('breaker_threshold', Number(5, 1, 1000, _('a whole number of failures from %(low)s to %(high)s'), integer=True)),
    ('breaker_cooldown', Number(60.0, 1, 86400, SECONDS)),
    ('retention_days', Number(30.0, 1, 36500, DAYS)),
    ('failed_retention_days', Number(90.0, 1, 36500, DAYS)),
    ('key_overlap_hours', Number(24.0, 0.01, 8760, _('a number of hours from %(low)s to %(high)s'))),
    ('retry_schedule', Schedule()),
    ('allowed_targets', Targets()),
    ('capture_disabled', Flag()),
])


REFUSED = _('The system parameter %(key)s cannot be "%(value)s": it must be %(bounds)s.')


def check(key, value, translate=_):
    """The parsed value of system parameter ``key`` (its full name), its default when empty; raises
    ValueError with a sentence naming it and its bounds, in the language of ``translate`` (a
    function as Odoo's ``_``). Keys that are not declared here pass."""
    spec = PARAMS.get(key[len(PREFIX):]) if key.startswith(PREFIX) else None
    if spec is None:
        return value
    text = value if isinstance(value, str) else ('' if value is None or value is False else str(value))
    if not text.strip():
        return spec.default
    try:
        return spec.parse(text.strip())
    except ValueError:
        bounds, values = spec.bounds()
        raise ValueError(translate(REFUSED) % {'key': key, 'value': text[:100],
                                               'bounds': translate(bounds) % values}) from None


def read(params, report):
    """``{name: parsed value}`` of every declared parameter from ``params`` (``{name: stored text}``,
    names without the prefix); a bad value is passed to ``report(message)`` and its default used."""
    values = {}
    for name, spec in PARAMS.items():
        try:
            values[name] = check(PREFIX + name, params.get(name))
        except ValueError as error:
            report('%s Using the default.' % error)
            values[name] = spec.default
    return values


def switched_off(value):
    """Whether ``account_webhook.capture_disabled``'s stored value switches capture off: anything but
    empty or an "off" word (a value stored before it was checked counts as on)."""
    return bool(value and value.strip() and value.strip().lower() not in Flag.OFF)


def _plain(number):
    return ('%d' % number) if number == int(number) else ('%s' % number)

