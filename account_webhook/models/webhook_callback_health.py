# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# pylint: disable=consider-merging-classes-inherited  # webhook.callback is split by concern on purpose
"""Health of a callback: its endpoint's circuit breaker and its last 24 hours as the list shows
them, the alerts its followers get once per incident, deactivation of callbacks that fail for days,
and the operator's buttons (*Send test event*, *Retry failed*)."""
import datetime
import logging

from odoo import _, api, fields, models
from odoo import tools

from .. import payload
from ..runtime import outbox
from ..runtime.state import read_state
from .webhook_record import written_by_addon

_logger = logging.getLogger(__name__)

ALERT_AFTER = datetime.timedelta(hours=1)  # an endpoint failing longer than this is an incident
# An active callback ``c``'s first failed attempt since its last success (``first_failure.at``; NULL when
# its last attempt succeeded or it has none), in two probes of attempt indexes whatever their number:
# the last success (webhook_delivery_attempt_success_index), the first attempt after it (callback_time_index).
FIRST_FAILURE_JOINS = """
    LEFT JOIN LATERAL (SELECT max(s.attempted_at) AS at FROM webhook_delivery_attempt s
                        WHERE s.callback_id = c.id AND s.success) last_success ON c.active
    LEFT JOIN LATERAL (SELECT min(a.attempted_at) AS at FROM webhook_delivery_attempt a
                        WHERE a.callback_id = c.id AND NOT a.success
                          AND a.attempted_at > COALESCE(last_success.at, '-infinity')) first_failure ON c.active"""



class WebhookCallback(models.Model):
    _inherit = 'webhook.callback'

    health_state = fields.Selection(
        [('healthy', 'Healthy'), ('failing', 'Failing'), ('paused', 'Paused'), ('inactive', 'Inactive')],
        string='State', compute='_compute_health',
        help="Inactive: archived. Otherwise the endpoint's circuit breaker: Failing after timeouts, connection "
             "errors or 5xx answers in a row; Paused when its deliveries wait for the cool-down, after "
             "which one probes it.")
    health = fields.Char(string='Endpoint health', compute='_compute_health')
    deliveries_24h = fields.Integer(string='Deliveries (24 h)', compute='_compute_activity',
                                    help='Deliveries recorded in the last 24 hours.')
    success_rate_24h = fields.Float(
        string='Delivered (24 h, %)', compute='_compute_activity', digits=(16, 1),
        help='Share of the deliveries recorded in the last 24 hours that were delivered.')
    last_success_at = fields.Datetime(string='Last delivered', compute='_compute_activity',
                                      help='When a delivery last reached the receiver.')
    # the incident its followers were last told of (see _check_alerts); written in SQL
    alert_state = fields.Selection([('failing', 'Failing'), ('deactivated', 'Deactivated'),
                                    ('quiet', 'Deactivated by an administrator')], readonly=True, copy=False)

    def _compute_health(self):
        breakers = {}
        if self.ids:
            self.env.cr.execute("""SELECT name, consecutive_failures, failing_since, paused_until,
                                          paused_until > (now() at time zone 'UTC')
                                     FROM webhook_endpoint WHERE name IN %s""",
                                (tuple(set(self.mapped('endpoint')) | {''}),))
            breakers = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for callback in self:
            failures, since, until, paused = breakers.get(callback.endpoint) or (0, None, None, False)
            if not callback.active:
                callback.health_state = 'inactive'
                callback.health = callback.inactive_reason or _('Inactive')
            elif paused:
                callback.health_state = 'paused'
                callback.health = _('Paused until %(until)s UTC after %(failures)s failures in a row') % {
                    'until': until, 'failures': failures}
            elif failures:
                callback.health_state = 'failing'
                callback.health = _('Failing since %(since)s UTC (%(failures)s failures in a row)') % {
                    'since': since, 'failures': failures}
            else:
                callback.health_state = 'healthy'
                callback.health = _('Healthy')

    def _compute_activity(self):
        """The last 24 hours of each callback in two statements, whatever the size of the outbox:
        its deliveries by state (an index-only range of webhook_delivery_callback_created_index per
        callback) and its last success (one probe of webhook_delivery_attempt_success_index)."""
        activity, last = {}, {}
        ids = [callback_id for callback_id in self.ids if isinstance(callback_id, int)]
        if ids:
            cr = self.env.cr
            self.env['webhook.delivery'].sudo()._expand_events()
            cr.execute("""SELECT d.callback_id, count(*), count(*) FILTER (WHERE d.state = 'done')
                            FROM webhook_delivery d
                           WHERE d.callback_id = ANY(%s)
                             AND d.create_date >= (now() at time zone 'UTC') - interval '24 hours'
                           GROUP BY d.callback_id""", (ids,))
            activity = {row[0]: row[1:] for row in cr.fetchall()}
            cr.execute("""SELECT c.id, s.at FROM unnest(%s::int[]) c(id)
                            CROSS JOIN LATERAL (SELECT max(a.attempted_at) AS at FROM webhook_delivery_attempt a
                                                 WHERE a.callback_id = c.id AND a.success) s""", (ids,))
            last = dict(cr.fetchall())
        for callback in self:
            total, done = activity.get(callback.id, (0, 0))
            callback.deliveries_24h = total
            callback.success_rate_24h = 100.0 * done / total if total else 0.0
            callback.last_success_at = last.get(callback.id)

    @api.model
    def _cron_monitor(self):
        """Every 5 minutes: the rotations whose overlap is over, then the alerts."""
        self._expire_previous_keys()
        self._check_alerts()

    @api.model
    def _check_alerts(self):
        """Tell each callback's followers once per incident (chatter and email through the mail
        queue): when the callback was deactivated (410 Gone, days of failures), or when its
        deliveries have failed for more than ALERT_AFTER (its endpoint's circuit breaker counts
        timeouts, connection errors and 5xx; the attempts count any refusal, a 401 after a key
        rotation say), and once more when that is over. ``alert_state`` remembers what they were
        last told; a callback archived by hand, or by an administrator's decision in a copied
        database (``quiet``), ends its incident without a message. Nothing in a held database (a
        copy: its failures are the original's, frozen). Per active callback two probes of the
        attempt indexes (FIRST_FAILURE_JOINS), as _deactivate_failing."""
        cr = self.env.cr
        if read_state(cr).held:
            return 0
        cr.execute("""
            SELECT id, alert_state, incident, since, error FROM (
                SELECT c.id, c.alert_state, LEAST(e.failing_since, first_failure.at) AS since,
                       COALESCE(last_failure.error, e.last_error) AS error,
                       CASE WHEN NOT c.active AND c.inactive_reason IS NOT NULL THEN 'deactivated'
                            WHEN c.active AND LEAST(e.failing_since, first_failure.at)
                                              < (now() at time zone 'UTC') - %s
                            THEN 'failing'
                       END AS incident
                  FROM webhook_callback c
                  LEFT JOIN webhook_endpoint e ON e.name = c.endpoint AND e.consecutive_failures > 0
                  {first_failure}
                  LEFT JOIN LATERAL (SELECT COALESCE(a.error, 'HTTP ' || a.status_code) AS error
                                       FROM webhook_delivery_attempt a
                                      WHERE a.callback_id = c.id AND first_failure.at IS NOT NULL
                                        AND a.attempted_at >= first_failure.at
                                      ORDER BY a.attempted_at DESC LIMIT 1) last_failure ON c.active
                 WHERE c.alert_state IS NOT NULL OR NOT c.active OR e.failing_since IS NOT NULL
                       OR first_failure.at IS NOT NULL) s
             WHERE alert_state IS DISTINCT FROM incident
               AND NOT (alert_state IS NOT DISTINCT FROM 'quiet' AND incident IS NOT DISTINCT FROM 'deactivated')
             ORDER BY id""".format(first_failure=FIRST_FAILURE_JOINS), (ALERT_AFTER,))
        changed = cr.fetchall()
        for callback_id, told, incident, since, error in changed:
            callback = self.browse(callback_id).with_context(active_test=False)
            if incident == 'deactivated':
                callback._alert(_('Callback %s deactivated') % callback.name,
                                _('%(reason)s Its deliveries are no longer sent; reactivate it once the receiver '
                                  'is fixed.') % {'reason': callback.inactive_reason})
            elif incident == 'failing':
                callback._alert(_('Callback %s failing') % callback.name,
                                _('Its deliveries to %(endpoint)s have been failing since %(since)s UTC; the last '
                                  'error: %(error)s. They wait and are retried.') % {
                                    'endpoint': callback.endpoint, 'since': str(since)[:19], 'error': error})
            elif callback.active and told != 'quiet':
                callback._alert(_('Callback %s recovered') % callback.name,
                                _('It is active again.') if told == 'deactivated'
                                else _('Its deliveries to %s go through again.') % callback.endpoint)
            cr.execute('UPDATE webhook_callback SET alert_state = %s WHERE id = %s', (incident, callback_id))
        self.invalidate_cache(['alert_state'])
        return len(changed)

    def _alert(self, subject, body):
        """One message to the followers of the callback: in its chatter and, for those who get
        their notifications by email, through Odoo's mail queue (not sent from here)."""
        # by no user, from the company: Odoo notifies no one of a message they wrote themselves,
        # by email neither whoever has the author's address (the cron's user often follows)
        sender = self._company_sender()
        sender = {'email_from': sender} if sender else {}
        self.with_context(mail_notify_force_send=False).message_post(
            subject=subject, body='<p>%s</p>' % tools.html_escape(body), message_type='notification',
            subtype='account_webhook.mt_callback_alert', author_id=False, **sender)

    @api.multi
    def action_retry_failed(self):
        """Queue every failed delivery of these callbacks again (same event ids)."""
        failed = self.env['webhook.delivery'].search([('callback_id', 'in', self.ids), ('state', '=', 'failed')])
        failed.action_resend()
        return len(failed)

    @api.multi
    def action_send_test_event(self):
        """POST a test event (operation "ping") now and open its delivery, which shows the result."""
        self.ensure_one()
        event_id = payload.new_event_id()
        delivery = written_by_addon(self.env['webhook.delivery'].sudo()).create({
            'callback_id': self.id, 'event_id': event_id, 'res_model': self.model, 'res_id': 0,
            'operation': 'ping', 'state': 'sending',
            'payload': payload.dumps(self.model, 'ping', None, {}, event_id, payload.utc_timestamp())})
        delivery._send_now()
        return {
            'type': 'ir.actions.act_window', 'res_model': 'webhook.delivery', 'res_id': delivery.id,
            'view_mode': 'form', 'views': [(False, 'form')], 'target': 'new',
            'name': _('Test event: %s') % dict(
                delivery._fields['state']._description_selection(self.env))[delivery.state],
        }

    def _deactivate(self, reason):
        """Deactivate these callbacks, saying why (runtime.outbox.deactivate, as a 410 does)."""
        outbox.deactivate(self.env.cr, self.ids, reason)
        self.invalidate_cache(['active', 'inactive_reason'], self.ids)
        self.clear_caches()

    @api.model
    def _deactivate_failing(self, days=5):
        """Deactivate callbacks whose deliveries have all failed for ``days`` days in a row: the
        first failed attempt after their last success is older than that. Returns them.

        One statement; per active callback, two probes of attempt indexes (FIRST_FAILURE_JOINS),
        whatever the number of attempts. Nothing in a held database (a copy: its failures are the
        original's, frozen; its held deliveries must still go out if an administrator keeps sending)."""
        if read_state(self.env.cr).held:
            return self.browse()
        self.env.cr.execute("""
            SELECT c.id, first_failure.at
              FROM webhook_callback c {first_failure}
             WHERE c.active AND first_failure.at < (now() at time zone 'UTC') - interval '1 day' * %s
             ORDER BY c.id""".format(first_failure=FIRST_FAILURE_JOINS), (days,))
        failing = self.browse()
        for callback_id, since in self.env.cr.fetchall():
            callback = self.browse(callback_id)
            callback._deactivate(_('Every delivery has failed since %(since)s UTC (%(days)s days in a row).') % {
                'since': since, 'days': days})
            failing |= callback
        return failing
