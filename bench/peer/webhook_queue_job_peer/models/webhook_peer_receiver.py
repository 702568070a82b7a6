# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models, tools


class WebhookPeerReceiver(models.Model):
    """A receiver of contact changes, with the queue_job channel its jobs run in (set by hand)."""
    _name = 'webhook.peer.receiver'
    _description = 'Webhook receiver (queue_job peer)'

    name = fields.Char(required=True)
    url = fields.Char(required=True)
    channel = fields.Char(required=True, default='root',
                          help='Full queue_job channel name, e.g. root.r0; give it a capacity in the '
                               '[queue_job] channels option of the server that runs the jobs.')
    name_prefix = fields.Char(help='Only contacts whose name starts with this (empty: every contact).')
    active = fields.Boolean(default=True)

    @api.model
    @tools.ormcache()
    def _peer_config(self):
        """(url, channel, name prefix) of the active receivers, cached: read on every contact write."""
        return tuple((r.url, r.channel, r.name_prefix or '') for r in self.sudo().search([]))

    @api.model
    def create(self, vals):
        self.clear_caches()
        return super(WebhookPeerReceiver, self).create(vals)

    @api.multi
    def write(self, vals):
        self.clear_caches()
        return super(WebhookPeerReceiver, self).write(vals)

    @api.multi
    def unlink(self):
        self.clear_caches()
        return super(WebhookPeerReceiver, self).unlink()
