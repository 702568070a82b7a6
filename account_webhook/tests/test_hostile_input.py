# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What an administrator types is checked before it is saved: system parameters within their
bounds, URLs and extra headers a receiver can be reached with; allow-listed names never reach
link-local or metadata addresses; the chatter never shows a URL's credentials or query values."""
import importlib.util
import ipaddress
import os
import socket
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.exceptions import ValidationError

from .. import params, sender
from ..runtime.state import Settings, _reported, read_settings
from .common import WebhookCase

FEW = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
CLAIMS_LOGGER = 'odoo.addons.account_webhook.runtime.state'


class TestParameters(WebhookCase):

    def refused(self, key, value, message):
        Params = self.env['ir.config_parameter']
        before = Params.get_param(key)
        with self.assertRaises(ValidationError) as refused, self.env.cr.savepoint():
            Params.set_param(key, value)
        self.assertIn(message, str(refused.exception))
        self.assertIn('Nothing was saved', str(refused.exception))
        self.assertEqual(Params.get_param(key), before)

    def test_bad_values_are_refused_with_their_bounds(self):
        for name, value, bounds in (
                ('timeout_total', 'nan', 'a number of seconds from 0.1 to 3600'),
                ('timeout_connect', 'inf', 'a number of seconds from 0.1 to 300'),
                ('timeout_connect', '-1', 'a number of seconds from 0.1 to 300'),
                ('lease_seconds', '1e12', 'a number of seconds from 1 to 86400'),
                ('concurrency', '2.5', 'a whole number of requests from 1 to 1024'),
                ('concurrency', '0', 'a whole number of requests from 1 to 1024'),
                ('per_endpoint', '100000', 'a whole number of requests from 1 to 1024'),
                ('breaker_threshold', 'five', 'a whole number of failures from 1 to 1000'),
                ('breaker_cooldown', '0', 'a number of seconds from 1 to 86400'),
                ('retention_days', '-30', 'a number of days from 1 to 36500'),
                ('failed_retention_days', 'NaN', 'a number of days from 1 to 36500'),
                ('key_overlap_hours', '0', 'a number of hours from 0.01 to 8760'),
                ('retry_schedule', '5,soon', 'from 1 to 50 numbers of seconds from 0 to 604800'),
                ('retry_schedule', '5,,6', 'from 1 to 50 numbers of seconds'),
                ('retry_schedule', ','.join(['1'] * 51), 'from 1 to 50 numbers of seconds'),
                ('retry_schedule', '5,inf', 'from 1 to 50 numbers of seconds'),
                ('allowed_targets', '10.0.0.0/8, my host', 'host names, IP addresses or networks (such as 10.0.0.0/8)'),
                ('capture_disabled', 'maybe', 'one of 1, true, yes, on, 0, false, no, off')):
            key = 'account_webhook.' + name
            self.refused(key, value, 'The system parameter %s cannot be "%s": it must be %s' % (
                key, value[:100], bounds))

    def test_records_are_checked_on_create_and_write(self):
        Params = self.env['ir.config_parameter']
        with self.assertRaisesRegex(ValidationError, 'account_webhook.lease_seconds cannot be "inf"'), \
                self.env.cr.savepoint():
            Params.create({'key': 'account_webhook.lease_seconds', 'value': 'inf'})
        self.assertFalse(Params.search([('key', '=', 'account_webhook.lease_seconds')]))
        param = Params.create({'key': 'account_webhook.lease_seconds', 'value': '300'})
        with self.assertRaisesRegex(ValidationError, 'account_webhook.lease_seconds cannot be "-5"'), \
                self.env.cr.savepoint():
            param.write({'value': '-5'})
        other = Params.create({'key': 'my.own.parameter', 'value': 'inf'})  # not the addon's: not checked
        with self.assertRaisesRegex(ValidationError, 'account_webhook.concurrency cannot be "inf"'), \
                self.env.cr.savepoint():
            other.write({'key': 'account_webhook.concurrency'})
        self.assertEqual((param.value, other.key), ('300', 'my.own.parameter'))

    def test_good_values_are_kept(self):
        Params = self.env['ir.config_parameter']
        for name, value in (('timeout_total', '2.5'), ('concurrency', '8'), ('retry_schedule', '0, 60,600'),
                            ('allowed_targets', '127.0.0.1, 10.0.0.0/8, erp.internal, fd00::/8'),
                            ('capture_disabled', '0'), ('per_endpoint', '')):
            Params.set_param('account_webhook.' + name, value)
            self.assertEqual(Params.get_param('account_webhook.' + name) or '', value)
        settings_now = read_settings(self.env.cr)
        self.assertEqual((settings_now.timeout_total, settings_now.concurrency, settings_now.retry_schedule,
                          settings_now.per_endpoint), (2.5, 8, [0.0, 60.0, 600.0], 16))

    def test_a_bad_stored_value_gives_its_default_and_one_log_line(self):
        self.store_raw_param('account_webhook.concurrency', 'inf')
        self.store_raw_param('account_webhook.retry_schedule', '-5')
        _reported.clear()
        with self.assertLogs(CLAIMS_LOGGER, 'WARNING') as logs:
            for _i in range(3):
                settings_now = read_settings(self.env.cr)
        self.assertEqual((settings_now.concurrency, settings_now.retry_schedule), (64, params.Schedule.default))
        self.assertEqual(len(logs.output), 2, logs.output)
        self.assertIn('account_webhook.concurrency cannot be "inf"', logs.output[0])

    @FEW
    @given(st.sampled_from(sorted(params.PARAMS)), st.one_of(st.text(max_size=80), st.floats().map(repr)))
    def test_any_stored_text_gives_a_value_within_bounds(self, name, text):
        values = params.read({name: text}, lambda message: None)
        spec, value = params.PARAMS[name], values[name]
        if isinstance(spec, params.Number):
            self.assertTrue(spec.low <= value <= spec.high, value)
        elif isinstance(spec, params.Schedule):
            self.assertTrue(1 <= len(value) <= params.MAX_SCHEDULE and all(0 <= s <= params.MAX_DELAY for s in value))

    @FEW
    @given(st.dictionaries(st.sampled_from(sorted(params.PARAMS)),
                           st.one_of(st.text(max_size=40), st.floats().map(repr), st.integers().map(str))))
    def test_settings_never_raise_and_stay_within_bounds(self, stored):
        settings_now = Settings(stored)
        self.assertTrue(0 < settings_now.timeouts[0] <= 300 and 0 < settings_now.timeouts[1] <= 3600)
        self.assertTrue(1 <= settings_now.concurrency <= 1024 and isinstance(settings_now.concurrency, int))
        self.assertTrue(settings_now.lease >= settings_now.timeout_connect + settings_now.timeout_total)
        for name, value in stored.items():
            try:
                expected = params.check(params.PREFIX + name, value)
            except ValueError:
                expected = params.PARAMS[name].default
            self.assertEqual(getattr(settings_now, name), expected)

    def test_numbers_are_written_in_ascii(self):
        for text in ('1_000', '\u0665', '\uff15', '0x10', '1e99999', '5\n6', '1e5000'):
            with self.assertRaises(ValueError):
                params.check('account_webhook.concurrency', text)
        self.assertEqual(params.check('account_webhook.concurrency', '  '), 64)  # empty: the default
        self.assertEqual(params.check('account_webhook.concurrency', ' 12 '), 12)
        self.assertEqual(params.check('account_webhook.timeout_total', '1.5e1'), 15.0)

    def test_allowed_targets_are_checked_label_by_label_and_fast(self):
        start = time.monotonic()
        for text in ('a' * 60 + '!', 'erp.' + 'a' * 5000 + '!', 'a' * 64, '-erp.internal', 'erp-.internal',
                     'erp..internal', '.', ('a' * 63 + '.') * 4, 'erp internal'):
            with self.assertRaises(ValueError, msg=text):
                params.check('account_webhook.allowed_targets', text)
        # one pattern over the whole name took seconds (exponential backtracking) on the first of those
        self.assertLess(time.monotonic() - start, 1)
        for text in ('erp.internal', 'erp.internal.', 'my_host', 'a' * 63 + '.' + 'b' * 63, '10.0.0.0/8, ::1',
                     'fd00::/8,erp.internal'):
            self.assertEqual(params.check('account_webhook.allowed_targets', text), text)

    def test_switching_capture_off_and_on_is_logged_on_every_callback(self):
        callback = self.make_callback(action='update', fields=('email',))
        Params = self.env['ir.config_parameter']
        with self.assertLogs('odoo.addons.account_webhook.models.ir_config_parameter', 'WARNING') as logs:
            Params.set_param('account_webhook.capture_disabled', '1')
            Params.set_param('account_webhook.capture_disabled', 'true')  # still off: nothing more
            Params.set_param('account_webhook.capture_disabled', '0')
        self.assertEqual(len(logs.output), 2)
        self.assertIn('switched capture off', logs.output[0])
        self.assertIn('switched capture on', logs.output[1])
        for line in logs.output:  # naming who did it
            self.assertIn('%s (%s, id %s)' % (self.env.user.name, self.env.user.login, self.env.user.id), line)
        notes = callback.message_ids.mapped('body')
        self.assertTrue(any('Capture switched off by' in body for body in notes), notes)
        self.assertTrue(any('Capture switched on again by' in body for body in notes), notes)


class TestUrlsAndHeaders(WebhookCase):

    def refused(self, vals, message):
        values = dict(name='refused', model='res.partner', action='update', field_names=['email'],
                      url='https://erp.example.com/hook')
        values.update(vals)
        with self.assertRaises(ValidationError) as refused, self.env.cr.savepoint():
            self.Callback.create(values)
        self.assertIn(message, str(refused.exception))
        self.assertFalse(self.Callback.with_context(active_test=False).search([('name', '=', 'refused')]))

    def test_bad_urls_are_refused(self):
        for url, message in (
                ('https://erp.example.com/' + 'a' * 2048, 'longer than 2048 characters'),
                ('https://erp.example.com/' + '\u00e4' * 400, 'longer than 2048 characters'),  # as sent: %C3%A4 each
                ('https://erp.example.com/a b', 'contains a space or a control character'),
                ('https://erp.example.com/a\tb', 'contains a space or a control character'),
                ('https://user:secret@erp.example.com/', 'carries a user name or password'),
                ('https://erp.example.com:0/', 'the port must be from 1 to 65535'),
                ('https://erp.example.com:70000/', 'is not a valid URL'),
                ('https://-erp-.example.com/', 'is not a valid host name'),
                ('https://erp..example.com/', 'is not a valid host name'),
                ('http://[not-ipv6]/', 'is not a valid URL'),
                ('gopher://erp.example.com/', 'must start with http:// or https://'),
                ('https:///hook', 'has no host'),
                ('https://erp.example.com/\u00a0x', 'contains a space or a control character'),
                ('https://erp.example.com/\u202egpj.exe', 'contains a space or a control character'),
                ('https://erp.exa\u200bmple.com/', 'contains a space or a control character'),
                ('https://erp.example.com/\x85', 'contains a space or a control character'),
                ('http://0x7f.1/', '0x7f.1 is not a valid IPv4 address (four numbers from 0 to 255'),
                ('http://2130706433/', '2130706433 is not a valid IPv4 address'),
                ('http://256.1.1.1/', '256.1.1.1 is not a valid IPv4 address'),
                ('http://[::1/', 'is not a valid URL'),
                ('http://[::1]:99999/', 'is not a valid URL'),
                ('http://[::1]\u00fc/', 'is not a valid URL'),
                ('http://[fe80::1%25eth0]/', 'is not a valid URL'),
                ('https://bad\u2603\u0000.example/', 'contains a space or a control character')):
            self.refused({'url': url}, 'Callback URL: ')
            self.refused({'url': url}, message)

    def test_urls_are_stored_as_they_are_sent(self):
        callback = self.make_callback(url='https://bücher.example/pfad/ä?q=ü')
        self.assertEqual(callback.url, 'https://xn--bcher-kva.example/pfad/%C3%A4?q=%C3%BC')
        callback.write({'url': 'http://[::1]/hook'})
        self.assertEqual((callback.url, callback.endpoint), ('http://[::1]/hook', 'http://[::1]:80'))
        callback.write({'url': 'http://[2001:db8::1]:8443/hook'})
        self.assertEqual(callback.endpoint, 'http://[2001:db8::1]:8443')
        callback.write({'url': 'HTTPS://ERP.Example.COM:8443/Hook?a=1'})
        self.assertEqual((callback.url, callback.endpoint), ('https://erp.example.com:8443/Hook?a=1',
                                                             'https://erp.example.com:8443'))
        callback.write({'url': 'http://192.0.2.10/hook'})
        self.assertEqual(callback.endpoint, 'http://192.0.2.10:80')

    def test_ipv6_literals_connect_to_their_host_and_port(self):
        connections = sender.Connections('::1')
        try:
            for url, endpoint, host, port in (
                    ('http://[::1]/x', 'http://[::1]:80', '::1', 80),
                    ('http://[::1]:8080/x', 'http://[::1]:8080', '::1', 8080),
                    ('https://[2001:db8::1]/x', 'https://[2001:db8::1]:443', '2001:db8::1', 443),
                    ('https://[2001:db8::1]:8443/x?a=1', 'https://[2001:db8::1]:8443', '2001:db8::1', 8443)):
                self.assertEqual(sender.endpoint_of(url), endpoint)
                connection, reused = connections.get(url)  # built, not connected
                self.assertEqual((connection.host, connection.port, reused), (host, port, False))
                connection.close()
        finally:
            connections.close()

    @FEW
    @given(st.one_of(st.text(max_size=60).map(lambda text: 'https://' + text),
                     st.builds('{}://{}/{}?{}'.format, st.sampled_from(['http', 'https', 'HTTP', 'ftp']),
                               st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))))
    def test_any_url_is_refused_with_a_message_or_stored_as_sent(self, url):
        try:
            stored = sender.checked_url(url)
        except ValueError as error:
            message, values = error.args
            self.assertTrue((message % values).startswith('Callback URL: '))
            return
        # what is stored is ASCII, checks again to itself, and http.client can send it as it is
        stored.encode('ascii')
        self.assertEqual(sender.checked_url(stored), stored)
        self.assertTrue(sender.endpoint_of(stored).startswith(('http://', 'https://')))

    def test_the_chatter_shows_no_query_values_nor_credentials(self):
        callback = self.make_callback(url='https://hooks.example.com/catch?token=s3cr3t&id=1')
        callback.write({'url': 'https://hooks.example.com/catch?token=n3w-s3cr3t'})
        tracked = self.env['mail.tracking.value'].search([('mail_message_id', 'in', callback.message_ids.ids)])
        shown = ' '.join('%s %s' % (value.old_value_char, value.new_value_char) for value in tracked)
        self.assertIn('https://hooks.example.com/catch?token=***', shown)
        self.assertNotIn('s3cr3t', shown)
        self.assertEqual(callback.url_display, 'https://hooks.example.com/catch?token=***')

    def test_bad_headers_are_refused(self):
        many = '\n'.join('X-H%d: v' % i for i in range(sender.MAX_HEADERS + 1))
        self.refused({'headers': many}, 'Extra headers: at most 20 lines and 8192 characters in all')
        self.refused({'headers': 'X-Big: ' + 'a' * 4100}, 'Extra headers: the line of X-Big is longer than 4096')
        self.refused({'headers': '\n'.join('X-H%d: %s' % (i, 'a' * 1000) for i in range(9))},
                     'at most 20 lines and 8192 characters in all')
        self.refused({'headers': 'X-Bell: a\x07b'}, 'must be printable ASCII')


class TestAllowedTargets(WebhookCase):

    def resolving(self, address):
        """getaddrinfo answering ``address`` for any name, as a DNS record pointing there would."""
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET

        def getaddrinfo(host, port, *args, **kwargs):
            return [(family, socket.SOCK_STREAM, 6, '', (address, port) if family == socket.AF_INET
                     else (address, port, 0, 0))]
        return getaddrinfo

    def test_an_allowed_name_still_refuses_link_local_and_metadata_addresses(self):
        policy = sender.TargetPolicy('erp.internal')
        original = socket.getaddrinfo
        try:
            for address in ('169.254.169.254', '169.254.1.1', 'fe80::1', 'fd00:ec2::254', '100.100.100.200',
                            '::ffff:169.254.169.254'):
                socket.getaddrinfo = self.resolving(address)
                with self.assertRaisesRegex(ValueError, 'not a public address'):
                    policy.addresses('erp.internal', 443)
            socket.getaddrinfo = self.resolving('10.1.2.3')
            self.assertTrue(policy.addresses('erp.internal', 443), 'a private address of an allowed name')
            with self.assertRaisesRegex(ValueError, 'not a public address'):
                policy.addresses('other.internal', 443)
            socket.getaddrinfo = self.resolving('169.254.10.10')  # only a network that holds it allows it
            self.assertTrue(sender.TargetPolicy('erp.internal,169.254.10.0/24').addresses('erp.internal', 80))
        finally:
            socket.getaddrinfo = original

    def test_ipv6_addresses_that_lead_to_ipv4_ones_are_checked_as_them(self):
        original = socket.getaddrinfo
        try:
            for allowed, host in (('', 'hooks.example.com'), ('erp.internal', 'erp.internal')):
                policy = sender.TargetPolicy(allowed)
                # NAT64, 6to4, IPv4-compatible and Teredo forms of 169.254.169.254; Azure's and Oracle's metadata
                for address in ('64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1', '::a9fe:a9fe',
                                '2001:0:4136:e378:8000:63bf:5601:5601', '168.63.129.16', '192.0.0.192'):
                    socket.getaddrinfo = self.resolving(address)
                    with self.assertRaisesRegex(ValueError, 'a link-local or cloud metadata address'):
                        policy.addresses(host, 443)
                for address in ('8.8.8.8', '::ffff:8.8.8.8', '64:ff9b::808:808', '2606:4700::1111'):
                    socket.getaddrinfo = self.resolving(address)
                    self.assertTrue(policy.addresses(host, 443), address)
            policy = sender.TargetPolicy('')
            for address in ('64:ff9b::7f00:1', '::ffff:10.0.0.1', '64:ff9b:1::808:808', '::1', '0.0.0.0'):
                socket.getaddrinfo = self.resolving(address)
                with self.assertRaisesRegex(ValueError, 'which is not a public address'):
                    policy.addresses('hooks.example.com', 443)
            socket.getaddrinfo = self.resolving('64:ff9b::a00:1')  # NAT64 of 10.0.0.1: its network allows it
            self.assertTrue(sender.TargetPolicy('10.0.0.0/8').addresses('hooks.example.com', 443))
        finally:
            socket.getaddrinfo = original


class TestMigration(WebhookCase):

    def test_the_upgrade_stores_urls_as_sent_and_fills_the_tracked_url(self):
        path = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'migrations', '11.0.4.0.0',
                            'post-migrate.py')
        spec = importlib.util.spec_from_file_location('odoo.addons.account_webhook.migrations.post_11_0_4', path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        good = self.make_callback(url='https://erp.example.com/hook')
        kept = self.make_callback(url='https://erp.example.com/kept')
        self.env.cr.execute("UPDATE webhook_callback SET url = %s, url_display = NULL WHERE id = %s",
                            ('https://Bücher.example/ä?token=s3cr3t', good.id))
        self.env.cr.execute("UPDATE webhook_callback SET url = %s, url_display = NULL WHERE id = %s",
                            ('https://user:pw@erp.example.com/kept?k=v', kept.id))
        with self.assertLogs('odoo.addons.account_webhook.migrations', 'WARNING') as logs:
            migration.migrate(self.env.cr, '11.0.3.0.0')
        self.assertNotIn('pw', ' '.join(logs.output))
        (good | kept).invalidate_cache()
        self.assertEqual((good.url, good.url_display, good.endpoint), (
            'https://xn--bcher-kva.example/%C3%A4?token=s3cr3t', 'https://xn--bcher-kva.example/%C3%A4?token=***',
            'https://xn--bcher-kva.example:443'))
        self.assertEqual((kept.url, kept.url_display), ('https://user:pw@erp.example.com/kept?k=v',
                                                        'https://erp.example.com/kept?k=***'))
