# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import ast
import json
import logging
import re
import threading
from random import SystemRandom
from urllib.parse import urlsplit

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import OrderedSet

from .. import payload, sender

_logger = logging.getLogger(__name__)

BACKFILL_BATCH = 500  # records per backfill transaction
KEY_LENGTH = 40
KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
KEY_PATTERN = re.compile(r'^[A-Za-z0-9]{%d}$' % KEY_LENGTH)


def generate_key():
    """40 characters of [A-Za-z0-9] from the operating system's cryptographic RNG."""
    rng = SystemRandom()
    return ''.join(rng.choice(KEY_ALPHABET) for _i in range(KEY_LENGTH))


class WebhookCallback(models.Model):
    _name = 'webhook.callback'
    _description = 'Callback'
    _order = 'name, id'

    name = fields.Char(string='Name', required=True)
    key = fields.Char(
        string='Unique key', required=True, copy=False, default=lambda self: generate_key(),
        groups='base.group_system',
        help='Secret that identifies the callback; each POST is signed with it (Standard Webhooks). '
             'It is never sent.')
    action = fields.Selection(
        [('create', 'Create'), ('update', 'Update'), ('delete', 'Delete')],
        string='Callback action', required=True, default='update',
        help='The operation on a record that sends a notification to the external system.')
    model_id = fields.Many2one(
        'ir.model', string='Record model name', required=True, ondelete='cascade',
        domain=lambda self: [('model', 'in', self._supported_models())],
        help='The kind of record this callback reports on, e.g. Invoice.')
    # model_id's technical name, kept in step by create/write (not a stored related field: see
    # webhook.delivery.attempt.callback_id for why no recomputation may hang on a callback)
    model = fields.Char(string='Model', readonly=True, index=True)
    field_ids = fields.Many2many(
        'ir.model.fields', 'webhook_callback_field_rel', 'callback_id', 'field_id', string='Fields',
        domain="[('model_id', '=', model_id), ('store', '=', True), ('ttype', 'not in', ['binary'])]",
        help='Fields sent in "values"; an update callback fires only when one of them changes.')
    url = fields.Char(string='Callback URL', required=True,
                      help='Where the notification is POSTed (http or https).')
    headers = fields.Text(
        string='Extra headers', groups='base.group_system',
        help='HTTP headers the receiver requires, one "Name: value" per line, e.g. '
             '"Authorization: Bearer ..." or "Apikey: ...". Sent with every POST, never shown in '
             'deliveries or logs. They cannot set webhook-*, Content-Type, Content-Length, Host, '
             'Transfer-Encoding or Connection.')
    filter_domain = fields.Char(
        string='Filter', default='[]',
        help='Only records that match it are sent: created records that match once created, '
             'updated records that match after the change, deleted records that matched before '
             'deletion. Literal values only.')
    active = fields.Boolean(string='Active', default=True)
    inactive_reason = fields.Char(string='Deactivated because', readonly=True, copy=False)
    company_id = fields.Many2one('res.company', string='Company', required=True,
                                 default=lambda self: self.env.user.company_id)
    rate_limit = fields.Integer(
        string='Max calls per minute', default=0,
        help='Deliveries beyond this many per 60 seconds wait their turn; 0 means no limit.')
    max_in_flight = fields.Integer(
        string='Max parallel requests', default=0,
        help='At most this many requests of this callback at once, per dispatcher; 0 means the '
             'per-endpoint limit (system parameter account_webhook.per_endpoint, 16 by default).')
    # scheme://host:port of the URL, kept in step by create/write (see `model` for why not computed):
    # per-endpoint limits and circuit breakers are keyed on it
    endpoint = fields.Char(string='Endpoint', readonly=True, index=True)
    health_state = fields.Selection(
        [('healthy', 'Healthy'), ('failing', 'Failing'), ('paused', 'Paused')], string='Health',
        compute='_compute_health', help="The endpoint's circuit breaker: after repeated timeouts, connection "
                                        "errors or 5xx answers its deliveries wait, then one probes it.")
    health = fields.Char(string='Endpoint health', compute='_compute_health')
    revision = fields.Integer(string='Revision', default=1, readonly=True, copy=False)
    revision_info = fields.Char(string='Revision history', compute='_compute_revision_info')
    sample_payload = fields.Text(
        string='Sample payload structure', compute='_compute_sample_payload',
        help='Exactly what this callback sends, shown for the latest record of the model.')
    delivery_ids = fields.One2many('webhook.delivery', 'callback_id', string='Deliveries')
    delivery_count = fields.Integer(string='Related records', compute='_compute_delivery_count')

    _sql_constraints = [
        ('key_unique', 'unique(key)', 'Unique key: another callback already uses this key.'),
    ]

    # -- models that can send callbacks ------------------------------------------------------

    @api.model
    def _supported_models(self):
        """Names of the models that inherit the capture mixin (webhook.mixin)."""
        return sorted(name for name, model in self.env.registry.items()
                      if getattr(model, '_webhook_capable', False) and not model._abstract)

    # -- computes ------------------------------------------------------------------------

    @api.depends('revision', 'create_date', 'write_date')
    def _compute_revision_info(self):
        for callback in self:
            if not callback.create_date:
                callback.revision_info = False
                continue
            callback.revision_info = _('Revision #%s · Created %s UTC by %s · Updated %s UTC by %s') % (
                callback.revision, callback.create_date, callback.create_uid.name,
                callback.write_date, callback.write_uid.name)

    def _sample_record(self, records):
        """The latest record of the callback's company that matches its filter (None if none)."""
        domain = self._company_domain(records) + self._filter()
        try:
            with self.env.cr.savepoint():
                return records.search(domain, order='id desc', limit=1)
        except Exception:  # a filter being edited, not valid yet: the constraint reports it on save
            return None

    @api.onchange('model_id')
    def _onchange_model_id(self):
        """The form's filter editor (domain widget) follows the technical name of the model."""
        self.model = self.model_id.model

    @api.depends('action', 'model_id', 'field_ids', 'filter_domain')
    def _compute_sample_payload(self):
        for callback in self:
            if not callback.model_id or callback.model_id.model not in self.env.registry:
                callback.sample_payload = False
                continue
            records = self.env[callback.model_id.model]
            names = [f.name for f in callback.field_ids if f.name in records._fields]
            record = callback._sample_record(records) or records.new(records.default_get(names))
            body = payload.dumps(
                callback.model_id.model, callback.action, record.id or None,
                payload.record_values(record, names),
                payload.new_event_id(), payload.utc_timestamp(),
                changed=names if callback.action == 'update' else None)
            callback.sample_payload = json.dumps(json.loads(body, object_pairs_hook=payload.OrderedDict),
                                                 indent=2, ensure_ascii=False)

    def _company_domain(self, records):
        if 'company_id' not in records._fields:
            return []
        company = self.company_id or self.env.user.company_id
        return ['|', ('company_id', '=', False), ('company_id', '=', company.id)]

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
            if paused:
                callback.health_state = 'paused'
                callback.health = _('Paused until %s UTC after %s failures in a row') % (until, failures)
            elif failures:
                callback.health_state = 'failing'
                callback.health = _('Failing since %s UTC (%s failures in a row)') % (since, failures)
            else:
                callback.health_state = 'healthy'
                callback.health = _('Healthy')

    def _compute_delivery_count(self):
        """One count per callback in SQL (an index-only scan of the callback_id index), with the
        deliveries' access rules: read_group would read every delivery row for its min(id)."""
        counts = {}
        if self.ids:
            deliveries = self.env['webhook.delivery']
            deliveries.check_access_rights('read')
            query = deliveries._where_calc([('callback_id', 'in', self.ids)])
            deliveries._apply_ir_rules(query, 'read')
            from_clause, where_clause, params = query.get_sql()
            self.env.cr.execute('SELECT "webhook_delivery".callback_id, count(*) FROM %s WHERE %s GROUP BY 1'
                                % (from_clause, where_clause), params)
            counts = dict(self.env.cr.fetchall())
        for callback in self:
            callback.delivery_count = counts.get(callback.id, 0)

    # -- validation ----------------------------------------------------------------------

    def _check_key_value(self, key):
        """Checked before saving: the database's unique index would only say IntegrityError."""
        if not KEY_PATTERN.match(key or ''):
            raise ValidationError(_('Unique key: it must be %s letters (A-Z, a-z) or digits.') % KEY_LENGTH)
        others = self.sudo().with_context(active_test=False).search([('key', '=', key), ('id', 'not in', self.ids)])
        if others:
            raise ValidationError(_('Unique key: another callback already uses this key.'))

    def _unsupported_model(self, model_name):
        return ValidationError(_('Record model name: %s cannot send callbacks. Supported: %s.') % (
            model_name, ', '.join(self._supported_models())))

    @api.constrains('model_id')
    def _check_model_id(self):
        supported = self._supported_models()
        for callback in self:
            if callback.model_id.model not in supported:
                raise self._unsupported_model(callback.model_id.model)

    @api.constrains('model_id', 'field_ids', 'action')
    def _check_field_ids(self):
        for callback in self:
            for field in callback.field_ids:
                if field.model_id != callback.model_id:
                    raise ValidationError(_('Fields: %s is not a field of %s.') % (field.name, callback.model_id.model))
                if field.ttype in payload.UNTRACKABLE_TYPES or not field.store:
                    raise ValidationError(_('Fields: %s cannot be tracked (binary or not stored).') % field.name)
            if callback.action == 'update' and not callback.field_ids:
                raise ValidationError(_('Fields: an update callback needs at least one field to track.'))

    @api.constrains('url')
    def _check_url(self):
        for callback in self:
            url = callback.url or ''
            if not url.strip():
                raise ValidationError(_('Callback URL: it is empty.'))
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018 (raises ValueError on a malformed port)
            except ValueError:
                raise ValidationError(_('Callback URL: %s is not a valid URL.') % url) from None
            if parts.scheme not in ('http', 'https') or url != url.strip() or ' ' in url:
                raise ValidationError(_('Callback URL: %s must start with http:// or https://.') % url)
            if not parts.hostname:
                raise ValidationError(_('Callback URL: %s has no host.') % url)

    @api.constrains('headers')
    def _check_headers(self):
        for callback in self.sudo():
            self._check_headers_value(callback.headers)

    @api.model
    def _check_headers_value(self, text):
        seen = set()
        for line in (text or '').split('\n'):
            line = line[:-1] if line.endswith('\r') else line
            if not line.strip():
                continue
            if ':' not in line:
                raise ValidationError(_('Extra headers: each line must be "Name: value".'))
            name, value = line.split(':', 1)
            name = name.strip()
            if not sender.HEADER_NAME.match(name):
                raise ValidationError(_('Extra headers: "%s" is not a valid header name.') % name)
            if name.lower().startswith(sender.RESERVED_PREFIX) or name.lower() in sender.RESERVED_HEADERS:
                raise ValidationError(_('Extra headers: %s cannot be set; it is written by the sender.') % name)
            if name.lower() in seen:
                raise ValidationError(_('Extra headers: %s is given twice.') % name)
            seen.add(name.lower())
            if '\r' in value or '\n' in value:
                raise ValidationError(_('Extra headers: the value of %s contains a line break.') % name)
            if any(not (char == '\t' or ' ' <= char <= '~') for char in value):
                raise ValidationError(_('Extra headers: the value of %s must be printable ASCII.') % name)

    @api.model
    def _parse_filter(self, text):
        """The filter as a domain list; raises ValueError/SyntaxError when it is not a literal list."""
        domain = ast.literal_eval((text or '').strip() or '[]')
        if not isinstance(domain, (list, tuple)):
            raise ValueError('not a list')
        return [tuple(item) if isinstance(item, list) else item for item in domain]

    def _filter(self):
        """The callback's filter as a domain (``[]`` when none or unreadable)."""
        return self._filter_of(self.filter_domain)

    @api.constrains('filter_domain', 'model_id')
    def _check_filter_domain(self):
        for callback in self:
            text = callback.filter_domain or '[]'
            try:
                domain = self._parse_filter(text)
            except (ValueError, SyntaxError, TypeError):
                raise ValidationError(_('Filter: %s is not a domain (a list such as '
                                        "[('type', '=', 'out_invoice')]).") % text) from None
            model_name = callback.model_id.model
            if not domain or model_name not in self.env.registry:
                continue
            try:
                with self.env.cr.savepoint():
                    self.env[model_name].sudo().with_context(active_test=False).search(domain, limit=1)
            except Exception as error:
                raise ValidationError(_('Filter: %s is not a valid filter for %s: %s') % (
                    text, model_name, tools.ustr(error).strip().splitlines()[0] if tools.ustr(error).strip()
                    else error.__class__.__name__)) from None

    # -- XML-RPC convenience: names instead of ids ------------------------------------------

    @api.model
    def _resolve_names(self, vals, current_model=None):
        """Turn ``model`` (a model name) and ``field_names`` (field names) into ids."""
        vals = dict(vals)
        model_name = vals.pop('model', None)
        field_names = vals.pop('field_names', None)
        if model_name is not None:
            ir_model = self.env['ir.model'].sudo().search([('model', '=', model_name)])
            if not ir_model or model_name not in self._supported_models():
                raise self._unsupported_model(model_name)
            vals['model_id'] = ir_model.id
        if vals.get('model_id'):
            vals['model'] = self.env['ir.model'].sudo().browse(vals['model_id']).model
        if vals.get('url'):
            vals['endpoint'] = sender.endpoint_of(vals['url'])
        if isinstance(vals.get('filter_domain'), (list, tuple)):
            vals['filter_domain'] = repr([tuple(item) if isinstance(item, list) else item
                                          for item in vals['filter_domain']])
        if field_names is not None:
            model_name = vals.get('model') or current_model
            if not model_name:
                raise ValidationError(_('Fields: give the record model together with field names.'))
            names = list(OrderedSet(field_names))
            found = self.env['ir.model.fields'].sudo().search([('model', '=', model_name), ('name', 'in', names)])
            missing = sorted(set(names) - set(found.mapped('name')))
            if missing:
                raise ValidationError(_('Fields: %s is not a field of %s.') % (', '.join(missing), model_name))
            vals['field_ids'] = [(6, 0, found.ids)]
        return vals

    # -- ORM -----------------------------------------------------------------------------

    @api.model
    def create(self, vals):
        if 'key' in vals:
            self._check_key_value(vals['key'])
        callback = super(WebhookCallback, self).create(self._resolve_names(vals))
        self.clear_caches()  # the capture's lookup of active callbacks (see webhook.mixin)
        return callback

    @api.multi
    def write(self, vals):
        vals = dict(vals)
        vals.pop('revision', None)
        if 'key' in vals:
            self._check_key_value(vals['key'])
        if 'model' in vals or 'field_names' in vals or 'model_id' in vals or 'url' in vals \
                or 'filter_domain' in vals:
            models_now = set(self.mapped('model'))
            vals = self._resolve_names(vals, current_model=models_now.pop() if len(models_now) == 1 else None)
        if vals.get('active'):
            vals.setdefault('inactive_reason', False)
        result = super(WebhookCallback, self).write(vals)
        if self.ids:
            self.env.cr.execute('UPDATE webhook_callback SET revision = revision + 1 WHERE id IN %s',
                                (tuple(self.ids),))
            self.invalidate_cache(['revision'], self.ids)
        self.clear_caches()
        return result

    @api.multi
    def unlink(self):
        result = super(WebhookCallback, self).unlink()
        self.clear_caches()
        return result

    @api.multi
    def copy(self, default=None):
        default = dict(default or {}, name=_('%s (copy)') % self.name)
        return super(WebhookCallback, self).copy(default)

    # -- the capture's lookup ------------------------------------------------------------

    @api.model
    @tools.ormcache('model_name')
    def _active_callbacks(self, model_name):
        """Active callbacks of a model as plain tuples ``(id, action, company_id, field names,
        filter domain)`` (the domain is ``None`` without a filter).

        Cached per registry, cleared whenever a callback changes: a write on a model with no
        callback costs no query.
        """
        self.env.cr.execute("""
            SELECT c.id, c.action, c.company_id,
                   COALESCE(array_agg(f.name ORDER BY f.name) FILTER (WHERE f.name IS NOT NULL), '{}'),
                   c.filter_domain
              FROM webhook_callback c
              LEFT JOIN webhook_callback_field_rel r ON r.callback_id = c.id
              LEFT JOIN ir_model_fields f ON f.id = r.field_id
             WHERE c.active AND c.model = %s
             GROUP BY c.id ORDER BY c.id""", (model_name,))
        return tuple((row[0], row[1], row[2], tuple(row[3]), tuple(self.browse()._filter_of(row[4])) or None)
                     for row in self.env.cr.fetchall())

    def _filter_of(self, text):
        try:
            return self._parse_filter(text)
        except (ValueError, SyntaxError, TypeError):
            return []

    # -- actions ---------------------------------------------------------------------------

    @api.multi
    def action_regenerate_key(self):
        for callback in self:
            callback.write({'key': generate_key()})
        return True

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
        delivery = self.env['webhook.delivery'].sudo().create({
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
        _logger.warning('Callback %s (%s) deactivated: %s', self.id, self.name, reason)
        self.sudo().write({'active': False, 'inactive_reason': reason})

    @api.constrains('max_in_flight', 'rate_limit')
    def _check_limits(self):
        for callback in self:
            if callback.max_in_flight < 0 or callback.rate_limit < 0:
                raise ValidationError(_('Max calls per minute and Max parallel requests cannot be negative.'))

    @api.model
    def _deactivate_failing(self, days=5):
        """Deactivate callbacks whose deliveries have all failed for ``days`` days in a row: the
        first failed attempt after their last success is older than that. Returns them.

        One statement; per active callback, two probes of attempt indexes: the last success
        (webhook_delivery_attempt_success_index) and the first attempt after it (callback_time_index),
        whatever the number of attempts."""
        self.env.cr.execute("""
            SELECT c.id, first_failure.at
              FROM webhook_callback c
              LEFT JOIN LATERAL (SELECT max(s.attempted_at) AS at FROM webhook_delivery_attempt s
                                  WHERE s.callback_id = c.id AND s.success) last_success ON true
             CROSS JOIN LATERAL (SELECT min(a.attempted_at) AS at FROM webhook_delivery_attempt a
                                  WHERE a.callback_id = c.id AND NOT a.success
                                    AND a.attempted_at > COALESCE(last_success.at, '-infinity')) first_failure
             WHERE c.active AND first_failure.at < (now() at time zone 'UTC') - interval '1 day' * %s
             ORDER BY c.id""", (days,))
        failing = self.browse()
        for callback_id, since in self.env.cr.fetchall():
            callback = self.browse(callback_id)
            callback._deactivate(_('Every delivery has failed since %s UTC (%s days in a row).') % (since, days))
            failing |= callback
        return failing

    @api.multi
    def action_backfill(self, batch_size=BACKFILL_BATCH):
        """Queue one ``create`` event (with ``"backfill": true``) per existing record of the model
        that the callback sees (its company) and that matches its filter, archived ones included.

        Written in batches of ``batch_size`` records in the order of their ids, each batch its own
        transaction (committed, except under tests: see webhook.delivery._cron_housekeeping), with
        only one batch of records in memory. Per-record order and rate limits are the dispatcher's.
        Returns the deliveries of the callback (one callback) or True.
        """
        commit = not getattr(threading.current_thread(), 'testing', False)
        for callback in self:
            if not callback.active:
                raise UserError(_('Backfill: the callback %s is archived.') % callback.name)
            if callback.model not in self.env.registry:
                raise self._unsupported_model(callback.model)
        for callback in self:
            count = callback._backfill(batch_size, commit)
            _logger.info('Callback %s: backfill queued %s events', callback.id, count)
        if len(self) == 1:
            return self.action_view_deliveries()
        return True

    def _backfill(self, batch_size, commit):
        callback_id, model_name = self.id, self.model
        names = sorted(self.field_ids.mapped('name'))
        records = self.env[model_name].sudo().with_context(active_test=False)
        domain = self._company_domain(records) + self._filter()
        if commit:
            self.env.cr.commit()
        count, last_id = 0, 0
        while True:
            ids = records._search([('id', '>', last_id)] + domain, order='id', limit=batch_size)
            if not ids:
                return count
            timestamp = payload.utc_timestamp()
            values = records.browse(ids)._webhook_values(names)
            rows = []
            for record_id in ids:
                event_id = payload.new_event_id()
                body = payload.OrderedDict((name, values[record_id][name]) for name in names)
                rows.append((callback_id, event_id, model_name, record_id, 'create', payload.dumps(
                    model_name, 'create', record_id, body, event_id, timestamp, backfill=True)))
            self.env['webhook.delivery']._enqueue(rows)
            count += len(rows)
            last_id = ids[-1]
            if commit:
                self.env.cr.commit()
            records.invalidate_cache()  # only one batch of records in memory

    @api.multi
    def action_view_deliveries(self):
        self.ensure_one()
        action = self.env.ref('account_webhook.webhook_delivery_action').read()[0]
        action['domain'] = [('callback_id', '=', self.id)]
        action['context'] = {'default_callback_id': self.id}
        return action
