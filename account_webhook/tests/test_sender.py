# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The SSRF guard's address policy, on literal addresses (resolved locally, nothing is sent)."""
import unittest

from ..sender import TargetPolicy, retry_after_seconds


class TestTargetPolicy(unittest.TestCase):

    def assertRefused(self, host, policy=None):
        with self.assertRaises(ValueError) as caught:
            (policy or TargetPolicy('')).addresses(host, 443)
        self.assertIn('not a public address', str(caught.exception))

    def test_non_global_addresses_are_refused(self):
        for host in ('127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.10', '169.254.169.254',
                     '100.64.0.1',       # CGNAT
                     '224.0.0.251',      # multicast
                     '0.0.0.0', '240.0.0.1', '::1', 'fe80::1', 'fc00::1', '::ffff:127.0.0.1'):
            self.assertRefused(host)

    def test_public_addresses_pass(self):
        for host in ('93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'):
            self.assertEqual(TargetPolicy('').addresses(host, 443)[0][4][0], host)

    def test_allow_list_by_address_network_and_name(self):
        policy = TargetPolicy(' 10.0.0.0/8 , 192.168.1.10, fd00::/8 ')
        for host in ('10.200.0.1', '192.168.1.10', 'fd12::1'):
            self.assertTrue(policy.addresses(host, 443))
        self.assertRefused('192.168.1.11', policy)
        self.assertRefused('169.254.169.254', policy)
        self.assertTrue(TargetPolicy('LocalHost').addresses('localhost', 80))

    def test_retry_after_in_seconds_or_as_a_date(self):
        import datetime
        now = datetime.datetime(2026, 5, 13, 17, 19, 14, tzinfo=datetime.timezone.utc)
        self.assertEqual(retry_after_seconds('120'), 120)
        self.assertEqual(retry_after_seconds('Wed, 13 May 2026 17:21:14 GMT', now=now), 120)
        self.assertEqual(retry_after_seconds('Wed, 13 May 2026 17:00:00 GMT', now=now), 0)
        self.assertIsNone(retry_after_seconds('soon'))
        self.assertIsNone(retry_after_seconds(None))
