# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime

from odoo import fields
from odoo.tests.common import SavepointCase, at_install, post_install

from ..models import webhook_mixin as capture
from ..runtime import claiming
from ..runtime.state import read_state
from .receiver import Receiver


@at_install(False)
@post_install(True)
class WebhookCase(SavepointCase):
    """Fixtures built here, not taken from demo data: users of each kind, a second company,
    the accounts and journals an invoice needs, and helpers to make callbacks, contacts and
    invoices.

    Post-install: under Odoo's own runner (``--test-enable``) the tests run once the install
    or update transaction has committed, never beside it (their cursor would wait for the
    rows it holds, and would not see the addon as installed nor its translations); under
    pytest-odoo the decorators change nothing. Subclasses build their fixtures in
    ``setUpFixtures``: should one fail, the class's cursor is rolled back and closed at once
    (unittest does not call ``tearDownClass`` after a failed ``setUpClass``), so the rows it
    wrote hold up no other test class."""

    @classmethod
    def setUpClass(cls):
        super(WebhookCase, cls).setUpClass()
        try:
            cls.setUpFixtures()
        except BaseException:
            super(WebhookCase, cls).tearDownClass()
            raise

    @classmethod
    def setUpFixtures(cls):
        cls.Callback = cls.env['webhook.callback']
        cls.Delivery = cls.env['webhook.delivery']
        # whatever other test suites committed to this database is not part of these tests
        cls.Callback.search([]).write({'active': False})
        cls.Delivery.search([]).unlink()
        cls.company = cls.env.ref('base.main_company')
        cls.other_company = cls.env['res.company'].create({'name': 'Other Company (test)'})
        Users = cls.env['res.users'].with_context(no_reset_password=True)
        cls.settings_admin = Users.create({
            'name': 'Settings Admin', 'login': 'webhook_settings_admin',
            'groups_id': [(6, 0, [cls.env.ref('base.group_system').id, cls.env.ref('base.group_user').id])]})
        cls.other_admin = Users.create({
            'name': 'Other Company Admin', 'login': 'webhook_other_admin',
            'company_id': cls.other_company.id, 'company_ids': [(6, 0, [cls.other_company.id])],
            'groups_id': [(6, 0, [cls.env.ref('base.group_system').id, cls.env.ref('base.group_user').id])]})
        cls.accountant = Users.create({
            'name': 'Accountant', 'login': 'webhook_accountant',
            'groups_id': [(6, 0, [cls.env.ref('account.group_account_invoice').id])]})
        cls.portal_user = Users.create({
            'name': 'Portal', 'login': 'webhook_portal',
            'groups_id': [(6, 0, [cls.env.ref('base.group_portal').id])]})
        cls.setUpAccounting()

    @classmethod
    def setUpAccounting(cls):
        """The receivable and income accounts, the sale and bank journals of the main company:
        the chart of accounts' when the database has one, else made here (a database where
        ``account`` is installed without a chart, as on a fresh database at the addon's
        install)."""
        env, company = cls.env, cls.company
        Account, Journal = env['account.account'], env['account.journal']

        def account(kind, code, name, reconcile=False):
            found = Account.search([('user_type_id', '=', env.ref(kind).id), ('company_id', '=', company.id)],
                                   limit=1)
            return found or Account.create({'code': code, 'name': name, 'user_type_id': env.ref(kind).id,
                                            'reconcile': reconcile, 'company_id': company.id})

        cls.receivable = account('account.data_account_type_receivable', 'WHR1', 'Receivable (test)', True)
        cls.income = account('account.data_account_type_revenue', 'WHI1', 'Income (test)')
        payable = account('account.data_account_type_payable', 'WHP1', 'Payable (test)', True)
        # the contacts' default accounts, which an invoice's partner onchange requires
        for name, default in (('property_account_receivable_id', cls.receivable),
                              ('property_account_payable_id', payable)):
            if not env['ir.property'].with_context(force_company=company.id).get(name, 'res.partner'):
                env['ir.property'].create({
                    'name': name, 'company_id': company.id, 'value_reference': 'account.account,%d' % default.id,
                    'fields_id': env['ir.model.fields']._get('res.partner', name).id})
        if not Journal.search([('type', '=', 'sale'), ('company_id', '=', company.id)], limit=1):
            Journal.create({'name': 'Sales (test)', 'code': 'WHS', 'type': 'sale', 'company_id': company.id,
                            'default_debit_account_id': cls.income.id,
                            'default_credit_account_id': cls.income.id})
        if not Journal.search([('type', '=', 'bank'), ('company_id', '=', company.id)], limit=1):
            bank = account('account.data_account_type_liquidity', 'WHB1', 'Bank (test)')
            Journal.create({'name': 'Bank (test)', 'code': 'WHB', 'type': 'bank', 'company_id': company.id,
                            'default_debit_account_id': bank.id, 'default_credit_account_id': bank.id})

    def setUp(self):
        super(WebhookCase, self).setUp()
        self.new_transaction()

    def store_raw_param(self, key, value):
        """A system parameter as raw SQL (or a release that did not check them) could have stored it."""
        self.env.cr.execute('DELETE FROM ir_config_parameter WHERE key = %s', (key,))
        self.env.cr.execute("INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)", (key, value))
        self.env['ir.config_parameter'].clear_caches()

    def new_transaction(self):
        """Forget what the capture remembers of the current transaction, as a commit does.

        Test cursors never commit; each test (and each step that stands for a separate
        request) plays a transaction of its own. The events it staged are fanned out, as the
        dispatchers do after a commit."""
        capture.expand_own(self.env.cr)
        self.env.cr.__dict__.pop('_webhook_tx', None)

    @classmethod
    def make_callback(cls, model='res.partner', action='update', fields=('email',), **vals):
        values = dict(name='%s %s' % (model, action), model=model, action=action,
                      field_names=list(fields), url='https://receiver.example.com/hook')
        values.update(vals)
        return cls.Callback.create(values)

    @classmethod
    def make_invoice(cls, lines=(('Consulting', 2, 150.0),), partner=None, env=None):
        env = env or cls.env
        receivable, income = cls.receivable.with_env(env), cls.income.with_env(env)
        partner = partner or env['res.partner'].create({'name': 'Invoice Customer'})
        return env['account.invoice'].create({
            'partner_id': partner.id, 'account_id': receivable.id, 'type': 'out_invoice',
            'invoice_line_ids': [(0, 0, {'name': name, 'quantity': qty, 'price_unit': price,
                                         'account_id': income.id}) for name, qty, price in lines]})

    def deliveries(self, callback):
        return self.Delivery.search([('callback_id', '=', callback.id)], order='id')

    def payloads(self, callback):
        import json
        return [json.loads(d.payload) for d in self.deliveries(callback)]

    def pay(self, invoice, amount=None):
        journal = self.env['account.journal'].search(
            [('type', '=', 'bank'), ('company_id', '=', invoice.company_id.id)], limit=1)
        payment = self.env['account.payment'].create({
            'payment_type': 'inbound', 'partner_type': 'customer', 'partner_id': invoice.partner_id.id,
            'amount': amount or invoice.residual, 'journal_id': journal.id,
            'payment_method_id': self.env.ref('account.account_payment_method_manual_in').id,
            'invoice_ids': [(6, 0, invoice.ids)]})
        payment.post()
        return payment


class DeliveryCase(WebhookCase):
    """A contact callback posting to a real receiver on 127.0.0.1, and a contact to change."""
    changes = 0

    @classmethod
    def setUpFixtures(cls):
        super(DeliveryCase, cls).setUpFixtures()
        cls.receiver = Receiver()
        cls.Params = cls.env['ir.config_parameter']
        cls.Params.set_param('account_webhook.allowed_targets', '127.0.0.1')
        cls.callback = cls.make_callback(action='update', fields=('email',), url=cls.receiver.url)
        cls.partner = cls.env['res.partner'].create({'name': 'Receiver test', 'email': 'a@example.com'})
        cls.Delivery.search([]).unlink()

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()
        super(DeliveryCase, cls).tearDownClass()

    def setUp(self):
        super(DeliveryCase, self).setUp()
        self.receiver.reset()

    def change(self, partner=None, email=None):
        """A captured change: one pending delivery of self.callback."""
        partner = partner or self.partner
        self.new_transaction()
        DeliveryCase.changes += 1
        partner.write({'email': email or 'changed-%d@example.com' % DeliveryCase.changes})
        return self.Delivery.search([('callback_id', '=', self.callback.id), ('res_id', '=', partner.id),
                                     ('state', '=', 'pending')], order='id desc', limit=1)

    def give_up_on(self, schedule):
        """A delivery answered 500 until the retry ``schedule`` is exhausted."""
        self.Params.set_param('account_webhook.retry_schedule', schedule)
        delivery = self.change()
        for _attempt in range(len(schedule.split(',')) + 1):
            self.receiver.answer(500)
            delivery._send_now()
        return delivery

    def claim(self, capacity=50):
        """Lease due deliveries in the test's transaction, as a dispatcher does (runtime.claiming.claim)."""
        jobs = claiming.claim(self.env.cr, read_state(self.env.cr), capacity)
        self.Delivery.invalidate_cache(ids=[job.id for job in jobs])
        return self.Delivery.browse([job.id for job in jobs])

    @staticmethod
    def seconds_from_now(value):
        return (fields.Datetime.from_string(value) - datetime.datetime.utcnow()).total_seconds()
