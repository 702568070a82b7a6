# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A copied database (a new database.uuid, as Odoo's Duplicate and a restore as a copy give it)
holds its deliveries until a Settings administrator keeps sending or deactivates the callbacks."""
import uuid

from odoo.exceptions import AccessError, UserError

from ..hooks import remember_database
from ..runtime.state import REMEMBERED_NAME, REMEMBERED_UUID, read_state
from .common import DeliveryCase

CLAIMS_LOGGER = 'odoo.addons.account_webhook.runtime.state'
REASON = 'Deactivated because this database is a copy of another'


class TestCopiedDatabase(DeliveryCase):

    def setUp(self):
        super(TestCopiedDatabase, self).setUp()
        self.original_uuid = self.Params.get_param('database.uuid')
        # the database as installed: it remembers its own uuid
        self.Params.set_param(REMEMBERED_UUID, self.original_uuid)
        self.Params.set_param(REMEMBERED_NAME, self.env.cr.dbname)

    def make_copy(self):
        """What Odoo's Duplicate does to the copy (ir.config_parameter.init(force=True))."""
        new_uuid = str(uuid.uuid1())
        self.Params.set_param('database.uuid', new_uuid)
        return new_uuid

    def state(self):
        return read_state(self.env.cr)

    def decision(self, user=None):
        Decision = self.env['webhook.copy.decision']
        return (Decision.sudo(user) if user else Decision).create({})

    def messages(self, callback):
        callback.invalidate_cache()
        return ' '.join(callback.message_ids.mapped('body'))

    def test_an_installed_database_is_not_held(self):
        state = self.state()
        self.assertEqual((state.database_uuid, state.remembered_uuid, state.held),
                         (self.original_uuid, self.original_uuid, False))
        self.assertFalse(self.callback.database_copy)
        delivery = self.change()
        self.assertEqual(self.claim(), delivery)

    def test_a_copy_claims_nothing_while_capture_still_writes_the_outbox(self):
        new_uuid = self.make_copy()
        first, second = self.change(), self.change()
        self.assertEqual(first.state, 'pending')
        with self.assertLogs(CLAIMS_LOGGER, 'WARNING') as logs:
            self.assertFalse(self.claim())
            self.assertFalse(self.claim())
        [warning] = logs.output  # once per database, not once per cycle
        self.assertIn('is a copy of another', warning)
        self.assertIn(new_uuid, warning)
        self.assertIn(self.original_uuid, warning)
        self.assertEqual((first + second).mapped('state'), ['pending', 'pending'])
        self.assertTrue(self.callback.database_copy)
        self.assertEqual(self.receiver.received, [])

    def test_keep_sending_sends_the_held_deliveries_with_their_event_ids(self):
        new_uuid = self.make_copy()
        other = self.env['res.partner'].create({'name': 'Another receiver test', 'email': 'b@example.com'})
        held = self.change() + self.change(partner=other)  # two records: claimed together
        event_ids = held.mapped('event_id')
        decision = self.decision(self.settings_admin)
        self.assertEqual((decision.held, decision.held_count, decision.callback_count),
                         (True, 2, 1))
        self.assertEqual((decision.database_uuid, decision.remembered_uuid), (new_uuid, self.original_uuid))
        action = decision.action_keep_sending()
        self.assertEqual(action['res_model'], 'webhook.callback')
        self.assertEqual(self.Params.get_param(REMEMBERED_UUID), new_uuid)
        self.assertFalse(self.state().held)
        self.assertTrue(self.callback.active)
        claimed = self.claim()
        self.assertEqual(claimed, held)
        claimed._send_now()
        self.assertEqual([request.headers['webhook-id'] for request in self.receiver.received], event_ids)
        self.assertEqual(held.mapped('state'), ['done', 'done'])
        self.assertIn('keeps sending', self.messages(self.callback))
        self.assertIn(new_uuid, self.messages(self.callback))

    def test_deactivate_all_archives_every_active_callback(self):
        self.make_copy()
        other_company = self.make_callback(name='other company', company_id=self.other_company.id)
        archived = self.make_callback(name='archived already')
        archived.write({'active': False})
        self.change()
        self.decision().action_deactivate_all()
        for callback in self.callback + other_company:
            self.assertFalse(callback.active)
            self.assertEqual(callback.inactive_reason, REASON)
            self.assertIn('deactivated all callbacks', self.messages(callback))
        self.assertFalse(archived.inactive_reason)
        self.assertNotIn('deactivated all callbacks', self.messages(archived))
        self.assertFalse(self.state().held)
        self.assertFalse(self.claim())
        # their followers are not alerted of what an administrator decided
        self.Callback._cron_monitor()
        alert = self.env.ref('account_webhook.mt_callback_alert')
        self.assertFalse((self.callback + other_company).mapped('message_ids').filtered(
            lambda message: message.subtype_id == alert))
        self.callback.write({'active': True})  # nor, later, that one is active again
        self.Callback._cron_monitor()
        self.assertFalse(self.callback.message_ids.filtered(lambda message: message.subtype_id == alert))

    def test_the_buttons_of_the_callback_form(self):
        self.make_copy()
        delivery = self.change()
        self.assertTrue(self.callback.action_database_copy_keep_sending())
        self.assertFalse(self.callback.database_copy)
        self.assertEqual(self.claim(), delivery)
        self.make_copy()
        self.callback.action_database_copy_deactivate_all()
        self.assertEqual((self.callback.active, self.callback.inactive_reason), (False, REASON))

    def test_deciding_twice_changes_nothing_more(self):
        self.make_copy()
        self.assertEqual(self.env['webhook.copy.decision'].keep_sending(), self.callback.ids)
        self.assertFalse(self.env['webhook.copy.decision'].deactivate_all())
        self.assertTrue(self.callback.active)

    def test_only_settings_administrators_decide(self):
        self.make_copy()
        self.change()
        for user in (self.accountant, self.portal_user):
            Decision = self.env['webhook.copy.decision'].sudo(user)
            for method, args in ((Decision.create, ({},)), (Decision.keep_sending, ()),
                                 (Decision.deactivate_all, ()), (Decision._menu_action, ())):
                with self.assertRaises(AccessError):
                    method(*args)
        with self.assertRaises(AccessError):
            self.callback.sudo(self.accountant).action_database_copy_keep_sending()
        self.assertTrue(self.state().held)
        self.assertTrue(self.callback.active)

    def test_a_database_without_the_parameter_is_not_held(self):
        self.Params.search([('key', '=', REMEMBERED_UUID)]).unlink()
        self.make_copy()
        state = self.state()
        self.assertEqual((state.remembered_uuid, state.held), (None, False))
        delivery = self.change()
        self.assertEqual(self.claim(), delivery)

    def test_send_test_event_is_refused_in_a_copy(self):
        self.make_copy()
        with self.assertRaises(UserError) as caught:
            self.callback.action_send_test_event()
        self.assertIn('copy of another', caught.exception.name)
        self.assertEqual(self.receiver.received, [])

    def test_the_menu_opens_the_decision_first_in_a_copy(self):
        Decision = self.env['webhook.copy.decision'].sudo(self.settings_admin)
        callbacks_action = self.env.ref('account_webhook.webhook_callback_action')
        self.assertEqual(Decision._menu_action()['id'], callbacks_action.id)
        self.make_copy()
        action = Decision._menu_action()
        self.assertEqual((action['res_model'], action['target']), ('webhook.copy.decision', 'new'))
        menu_action = self.env.ref('account_webhook.webhook_callback_menu_action').sudo(self.settings_admin)
        self.assertEqual(menu_action.run()['res_model'], 'webhook.copy.decision')
        self.assertEqual(self.env.ref('account_webhook.webhook_callback_menu').action, menu_action)

    def test_the_database_uuid_is_remembered_at_install_and_upgrade(self):
        self.Params.search([('key', '=', REMEMBERED_UUID)]).unlink()
        remember_database(self.env.cr)  # the upgrade to 11.0.3.0.0
        self.assertEqual(self.Params.get_param(REMEMBERED_UUID), self.original_uuid)
        self.make_copy()
        remember_database(self.env.cr)  # run again: what it remembered stays
        self.assertEqual(self.Params.get_param(REMEMBERED_UUID), self.original_uuid)
        new_uuid = self.make_copy()
        remember_database(self.env.cr, replace=True)  # the install
        self.assertEqual(self.Params.get_param(REMEMBERED_UUID), new_uuid)

    def test_a_copy_under_another_name_is_held_from_its_first_moment(self):
        """Before Odoo's Duplicate gives the copy its new uuid (at its very end), or a copy made with
        createdb -T (same uuid): the name differs."""
        self.Params.set_param(REMEMBERED_NAME, 'production')
        self.change()
        with self.assertLogs(CLAIMS_LOGGER, 'WARNING'):
            self.assertFalse(self.claim())
        self.assertTrue(self.callback.database_copy)
        decision = self.decision()
        self.assertEqual((decision.remembered_name, decision.database_name), ('production', self.env.cr.dbname))
        decision.action_keep_sending()
        self.assertEqual(self.Params.get_param(REMEMBERED_NAME), self.env.cr.dbname)
        self.assertFalse(self.state().held)
        self.assertTrue(self.claim())

    def test_the_upgrade_holds_a_database_copied_before_it(self):
        """A staging copy of production made before 11.0.3.0.0: Odoo's Duplicate reset its
        database.create_date, later than its callbacks' creation."""
        import importlib.util
        import os
        path = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'migrations', '11.0.3.0.0', 'post-migrate.py')
        spec = importlib.util.spec_from_file_location('account_webhook_migration_11_0_3', path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        forget = [('key', 'in', (REMEMBERED_UUID, REMEMBERED_NAME))]
        self.Params.search(forget).unlink()
        self.Params.set_param('database.create_date', '2000-01-01 00:00:00')  # the original: made before
        migration.migrate(self.env.cr, '11.0.2.0.0')
        self.assertFalse(self.state().held)
        self.Params.search(forget).unlink()
        self.env.cr.execute('SELECT min(create_date) + interval \'1 second\' FROM webhook_callback')
        self.Params.set_param('database.create_date', str(self.env.cr.fetchone()[0])[:19])  # a copy: after
        migration.migrate(self.env.cr, '11.0.2.0.0')
        self.assertEqual(self.Params.get_param(REMEMBERED_UUID), migration.COPIED_BEFORE)
        self.assertTrue(self.state().held)
        self.assertIn('copied before', self.decision().remembered_uuid)
