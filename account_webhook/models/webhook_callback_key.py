# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# pylint: disable=consider-merging-classes-inherited  # webhook.callback is split by concern on purpose
"""Keys of a callback: each POST is signed with its unique key; *Rotate key* gives a new one while
the previous one keeps signing for an overlap (wiped by the monitor cron), *Regenerate key* switches
at once (a leaked key)."""
import datetime
import re
from random import SystemRandom

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

KEY_LENGTH = 40
KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
KEY_PATTERN = re.compile(r'^[A-Za-z0-9]{%d}$' % KEY_LENGTH)
# as Svix: the previous key stays valid 24 hours after a rotation, a year at most (params.py)
OVERLAP_PARAM = 'account_webhook.key_overlap_hours'


def generate_key():
    """40 characters of [A-Za-z0-9] from the operating system's cryptographic RNG."""
    rng = SystemRandom()
    return ''.join(rng.choice(KEY_ALPHABET) for _i in range(KEY_LENGTH))



class WebhookCallback(models.Model):
    _inherit = 'webhook.callback'

    key = fields.Char(
        string='Unique key', required=True, copy=False, default=lambda self: generate_key(),
        groups='base.group_system',
        help='Secret that identifies the callback; each POST is signed with it (Standard Webhooks). '
             'It is never sent.')
    # a rotation's previous key: still signs every POST (a second signature) until it expires,
    # then it is wiped (see _expire_previous_keys)
    previous_key = fields.Char(readonly=True, copy=False, groups='base.group_system')
    previous_key_expires = fields.Datetime(
        string='Previous key valid until', readonly=True, copy=False,
        help='After Rotate key, every POST is signed with both keys until then; then only with the new one.')


    _sql_constraints = [
        ('key_unique', 'unique(key)', 'Unique key: another callback already uses this key.'),
    ]

    def _check_key_value(self, key):
        """Checked before saving: the database's unique index would only say IntegrityError."""
        if not KEY_PATTERN.match(key or ''):
            raise ValidationError(_('Unique key: it must be %s letters (A-Z, a-z) or digits.') % KEY_LENGTH)
        others = self.sudo().with_context(active_test=False).search([('key', '=', key), ('id', 'not in', self.ids)])
        if others:
            raise ValidationError(_('Unique key: another callback already uses this key.'))

    @api.multi
    def action_regenerate_key(self):
        """Switch to a new key at once (a leaked key): the previous one, and a rotation's, stop signing."""
        for callback in self:
            callback.with_context(webhook_key_logged=True).write({
                'key': generate_key(), 'previous_key': False, 'previous_key_expires': False})
            callback._log(_('Key regenerated: the new key signs every POST from now on; the previous key no '
                            'longer does.'))
        return True

    @api.multi
    def action_rotate_key(self):
        """A new key, and the current one stays valid for the overlap (system parameter
        ``account_webhook.key_overlap_hours``, 24 by default): until then every POST carries both
        signatures, then the previous key is wiped (_expire_previous_keys). Refused while a rotation
        of the callback is in its overlap: a second rotation would end the first one's early and
        break the receivers still on the oldest key (Regenerate key is the way for a leaked key)."""
        hours = self._overlap_hours()
        now = fields.Datetime.now()
        for callback in self:
            if callback.previous_key_expires and callback.previous_key_expires > now:
                raise UserError(_('Rotate key: %(callback)s is already being rotated: its previous key stays valid '
                                  'until %(until)s UTC. Rotate again after that, or use Regenerate key if a key '
                                  'leaked.') % {'callback': callback.name, 'until': callback.previous_key_expires})
        until = fields.Datetime.to_string(fields.Datetime.from_string(now) + datetime.timedelta(hours=hours))
        for callback in self:
            callback.with_context(webhook_key_logged=True).write({
                'key': generate_key(), 'previous_key': callback.sudo().key, 'previous_key_expires': until})
            callback._log(_('Key rotated: every POST is signed with the new and the previous key until %s UTC, '
                            'then with the new key only.') % until)
        return True

    @api.model
    def _overlap_hours(self):
        """The key-rotation overlap in hours (its default and bounds: ``params.py``); a bad value stored
        before values were checked refuses the rotation, naming it and its bounds."""
        try:
            return self.env['ir.config_parameter']._webhook_param(OVERLAP_PARAM)
        except ValueError as error:
            raise UserError(_('Rotate key: %s Nothing was changed.') % error) from None

    @api.model
    def _expire_previous_keys(self):
        """Wipe the previous keys whose overlap is over (they stopped signing then already)."""
        self.env.cr.execute("""UPDATE webhook_callback SET previous_key = NULL, previous_key_expires = NULL
                                WHERE previous_key_expires <= (now() at time zone 'UTC') RETURNING id""")
        expired = self.browse([row[0] for row in self.env.cr.fetchall()])
        expired.invalidate_cache(['previous_key', 'previous_key_expires'], expired.ids)
        for callback in expired:
            callback._log(_('Key rotation done: the previous key was wiped; POSTs are signed with the new key only.'))
        return expired
