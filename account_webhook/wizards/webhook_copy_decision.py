# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The decision an administrator takes in a copied database (the callbacks' side: models/webhook_copy.py).

A copied database does not talk to production receivers. Odoo's *Duplicate* and a restore as a
copy give the copy another name and a new ``database.uuid``; the addon remembers those it was set up
with (``account_webhook.database_name`` and ``_uuid``, see hooks.py). While they differ the database
is *held* (``runtime.state.State.held``): capture still writes the outbox, nothing is sent, until an
administrator decides here: keep sending (the held deliveries go out, with their event ids) or
deactivate every callback.
"""
import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import html_escape

from ..runtime.state import REMEMBERED_NAME, REMEMBERED_UUID, read_state
from ..runtime.engine import NOTIFY_CHANNEL

_logger = logging.getLogger(__name__)


class WebhookCopyDecision(models.TransientModel):
    _name = 'webhook.copy.decision'
    _description = 'Callbacks of a copied database'

    # what the dialog explains, as it was when it opened
    database_name = fields.Char(string='This database', readonly=True)
    remembered_name = fields.Char(string='Original database', readonly=True)
    database_uuid = fields.Char(string='This database UUID', readonly=True)
    remembered_uuid = fields.Char(string='Original database UUID', readonly=True)
    held = fields.Boolean(string='Deliveries held', readonly=True)
    held_count = fields.Integer(string='Deliveries waiting', readonly=True)
    callback_count = fields.Integer(string='Active callbacks', readonly=True)

    @api.model
    def _check_admin(self):
        if not self.env.user.has_group('base.group_system'):
            raise AccessError(_('Only Settings administrators decide what the callbacks of a copied database do.'))

    @api.model
    def _copy_state(self):
        return read_state(self.env.cr)

    @api.model
    def _waiting_count(self):
        """Deliveries of active callbacks still to send: what a held database holds."""
        self.env.cr.execute("""SELECT count(*) FROM webhook_delivery d JOIN webhook_callback c ON c.id = d.callback_id
                                WHERE c.active AND d.state IN ('pending', 'sending')""")
        return self.env.cr.fetchone()[0]

    @api.model
    def default_get(self, fields_list):
        self._check_admin()
        values = super(WebhookCopyDecision, self).default_get(fields_list)
        state = self._copy_state()
        known = dict(database_name=state.database, remembered_name=state.remembered_name,
                     database_uuid=state.database_uuid, remembered_uuid=state.remembered_uuid, held=state.held,
                     held_count=self._waiting_count(), callback_count=len(state.callbacks))
        values.update((name, value) for name, value in known.items() if name in fields_list)
        return values

    @api.model
    def create(self, vals):
        self._check_admin()
        return super(WebhookCopyDecision, self).create(vals)

    @api.model
    def _callbacks_action(self):
        return self.env.ref('account_webhook.webhook_callback_action').read()[0]

    @api.model
    def _decide(self, deactivate):
        """Make this database the one the callbacks send from; with ``deactivate``, archive every
        active callback first. Logged on each callback's chatter. Returns the affected callbacks."""
        self._check_admin()
        # one decision at a time: another administrator's waits here, then finds nothing to decide
        self.env.cr.execute('SELECT id FROM ir_config_parameter WHERE key IN %s FOR UPDATE',
                            ((REMEMBERED_UUID, REMEMBERED_NAME),))
        state = self._copy_state()
        if not state.held:  # decided meanwhile (another administrator, another tab): nothing to do
            return self.env['webhook.callback']
        callbacks = self.env['webhook.callback'].sudo().search([('active', '=', True)])  # every company's
        waiting = self._waiting_count()
        was = _('This database (%(name)s, database.uuid %(now)s) is a copy of the one its callbacks were set up in '
                '(%(original_name)s, database.uuid %(original)s).') % dict(
                    name=state.database, now=state.database_uuid, original_name=state.remembered_name or '?',
                    original=state.remembered_uuid)
        if deactivate:
            callbacks.write({'active': False,
                             'inactive_reason': _('Deactivated because this database is a copy of another')})
            if callbacks:  # the administrator's own decision: no alert to the followers about it
                self.env.cr.execute("UPDATE webhook_callback SET alert_state = 'quiet' WHERE id IN %s",
                                    (tuple(callbacks.ids),))
            body = _('%(copy)s %(user)s deactivated all callbacks; deliveries waiting stay in the outbox and are '
                     'sent if a callback is activated again.') % dict(copy=was, user=self.env.user.name)
        else:
            body = _('%(copy)s %(user)s decided that it keeps sending: the %(count)d deliveries waiting are '
                     'sent.') % dict(copy=was, user=self.env.user.name, count=waiting)
        params = self.env['ir.config_parameter'].sudo()
        params.set_param(REMEMBERED_UUID, state.database_uuid)
        params.set_param(REMEMBERED_NAME, state.database)
        for callback in callbacks:
            callback.message_post(body=html_escape(body), author_id=self.env.user.partner_id.id)
        _logger.warning('Database %s: %s', self.env.cr.dbname, body)
        if not deactivate:  # the dispatchers claim at once (on commit), not at their next poll
            self.env.cr.execute('SELECT pg_notify(%s, current_database())', (NOTIFY_CHANNEL,))
        return callbacks

    @api.model
    def keep_sending(self):
        """This copy sends like the original: the held deliveries go out, with their event ids.
        Returns the ids of the callbacks concerned (callable over XML-RPC)."""
        return self._decide(deactivate=False).ids

    @api.model
    def deactivate_all(self):
        """This copy sends nothing: every active callback is archived. Returns their ids."""
        return self._decide(deactivate=True).ids

    @api.multi
    def action_keep_sending(self):
        self.keep_sending()
        return self._callbacks_action()

    @api.multi
    def action_deactivate_all(self):
        self.deactivate_all()
        return self._callbacks_action()

    @api.multi
    def action_later(self):
        """Decide later: the callbacks list, with the notice on each callback's form."""
        self._check_admin()
        return self._callbacks_action()

    @api.model
    def _menu_action(self):
        """What Settings > Other Settings > Callbacks opens: this decision first in a held database."""
        if self._copy_state().held:
            self._check_admin()
            return {
                'type': 'ir.actions.act_window', 'res_model': self._name, 'view_mode': 'form',
                'views': [(self.env.ref('account_webhook.webhook_copy_decision_view_form').id, 'form')],
                'target': 'new', 'name': _('This database is a copy'),
            }
        return self._callbacks_action()
