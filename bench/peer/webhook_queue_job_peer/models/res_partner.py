# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""One queue_job job per (change, receiver): what an Odoo 11 integrator builds with OCA queue_job.

create/write of a contact enqueue ``post_change`` with ``with_delay(channel=...)`` in the
user's transaction; queue_job's runner later asks Odoo over HTTP to run each job, which POSTs
the JSON body. The job's uuid is the ``webhook-id`` header (the same on every retry); a failed
POST raises RetryableJobError, so queue_job retries it (a plain exception would fail the job
for good). The context key ``webhook_peer_skip`` skips the override (the benchmark's baseline);
``webhook_peer_quiet`` enqueues with ``tracking_disable``: queue.job is a mail.thread, and each job
created otherwise logs a "created" message, subscribes its creator and notifies them (most of
the cost of enqueueing).
"""
import json

import requests

from odoo import api, models
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import job

TRACKED = ('name', 'email')
TIMEOUT_PARAM = 'webhook_queue_job_peer.timeout'


class ResPartner(models.Model):
    _inherit = 'res.partner'

    @api.model
    def create(self, vals):
        partner = super(ResPartner, self).create(vals)
        partner._peer_enqueue('create')
        return partner

    @api.multi
    def write(self, vals):
        result = super(ResPartner, self).write(vals)
        if set(TRACKED).intersection(vals):
            self._peer_enqueue('update')
        return result

    @api.multi
    def _peer_enqueue(self, operation):
        if self.env.context.get('webhook_peer_skip'):
            return
        receivers = self.env['webhook.peer.receiver']._peer_config()
        if not receivers:
            return
        if self.env.context.get('webhook_peer_quiet'):
            self = self.with_context(tracking_disable=True)
        for partner in self:
            values = {name: partner[name] or None for name in TRACKED}
            body = {'object': self._name, 'operation': operation, 'id': partner.id, 'values': values}
            for url, channel, prefix in receivers:
                if prefix and not (values['name'] or '').startswith(prefix):
                    continue
                partner.with_delay(channel=channel).post_change(url, body)

    @job(default_channel='root', retry_pattern={1: 10, 3: 60, 5: 300})
    @api.multi
    def post_change(self, url, body):
        """POST a contact change to a receiver"""
        timeout = float(self.env['ir.config_parameter'].sudo().get_param(TIMEOUT_PARAM, '15'))
        headers = {'Content-Type': 'application/json', 'webhook-id': self.env.context.get('job_uuid') or ''}
        try:
            response = requests.post(url, data=json.dumps(body), headers=headers, timeout=(5, timeout))
        except requests.RequestException as exc:
            raise RetryableJobError('POST %s failed: %s' % (url, exc)) from exc
        if not 200 <= response.status_code < 300:
            raise RetryableJobError('POST %s answered HTTP %d' % (url, response.status_code))
        return 'HTTP %d' % response.status_code
