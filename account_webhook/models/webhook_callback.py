# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import ast
import datetime
import json
import logging
import re
from email.utils import formataddr
from random import SystemRandom

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import OrderedSet, formatLang

from .. import batches, payload, sender
from ..runtime import claims
from .webhook_record import written_by_addon

_logger = logging.getLogger(__name__)

BACKFILL_BATCH = 500  # records per backfill transaction
BACKFILL_SECONDS = 30  # per run of the backfill cron; what is left waits for its next run
KEY_LENGTH = 40
KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
KEY_PATTERN = re.compile(r'^[A-Za-z0-9]{%d}$' % KEY_LENGTH)
# as Svix: the previous key stays valid 24 hours after a rotation, a year at most (params.py)
OVERLAP_PARAM = 'account_webhook.key_overlap_hours'
ALERT_AFTER = datetime.timedelta(hours=1)  # an endpoint failing longer than this is an incident
# mail.thread's own bookkeeping: writing only these is no revision of the callback
MAIL_FIELDS = ('message_', 'activity_', 'website_message_ids')
LOGGED_FIELDS = ('field_ids', 'headers', 'key')  # changes logged by _log_changes (tracking cannot show them)
# An active callback ``c``'s first failed attempt since its last success (``first_failure.at``; NULL when
# its last attempt succeeded or it has none), in two probes of attempt indexes whatever their number:
# the last success (webhook_delivery_attempt_success_index), the first attempt after it (callback_time_index).
FIRST_FAILURE_JOINS = """
    LEFT JOIN LATERAL (SELECT max(s.attempted_at) AS at FROM webhook_delivery_attempt s
                        WHERE s.callback_id = c.id AND s.success) last_success ON c.active
    LEFT JOIN LATERAL (SELECT min(a.attempted_at) AS at FROM webhook_delivery_attempt a
                        WHERE a.callback_id = c.id AND NOT a.success
                          AND a.attempted_at > COALESCE(last_success.at, '-infinity')) first_failure ON c.active"""


def generate_key():
    """40 characters of [A-Za-z0-9] from the operating system's cryptographic RNG."""
    rng = SystemRandom()
    return ''.join(rng.choice(KEY_ALPHABET) for _i in range(KEY_LENGTH))


class WebhookCallback(models.Model):
    _name = 'webhook.callback'
    _inherit = ['mail.thread']
    _description = 'Callback'
    _order = 'name, id'

    name = fields.Char(required=True, track_visibility='onchange')
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
    action = fields.Selection(
        [('create', 'Create'), ('update', 'Update'), ('delete', 'Delete')],
        string='Callback action', required=True, default='update', track_visibility='onchange',
        help='The operation on a record that sends a notification to the external system.')
    model_id = fields.Many2one(
        'ir.model', string='Record model name', required=True, ondelete='cascade', track_visibility='onchange',
        domain=lambda self: [('model', 'in', self._supported_models())],
        help='The kind of record this callback reports on, e.g. Invoice.')
    # model_id's technical name, kept in step by create/write (not a stored related field: see
    # webhook.delivery.attempt.callback_id for why no recomputation may hang on a callback)
    model = fields.Char(readonly=True, index=True)
    field_ids = fields.Many2many(
        'ir.model.fields', 'webhook_callback_field_rel', 'callback_id', 'field_id', string='Fields',
        domain="[('model_id', '=', model_id), ('store', '=', True), ('ttype', 'not in', ['binary']), "
               "('webhook_secret', '=', False)]",
        help='Fields sent in "values"; an update callback fires only when one of them changes.')
    url = fields.Char(string='Callback URL', required=True,
                      help='Where the notification is POSTed (http or https). Credentials go in Extra headers.')
    # what the chatter tracks of the URL: its query values masked (they may be tokens); set with it
    url_display = fields.Char(string='Callback URL (as logged)', readonly=True, track_visibility='onchange')
    headers = fields.Text(
        string='Extra headers', groups='base.group_system',
        help='HTTP headers the receiver requires, one "Name: value" per line, e.g. '
             '"Authorization: Bearer ..." or "Apikey: ...". Sent with every POST, never shown in '
             'deliveries or logs. They cannot set webhook-*, Content-Type, Content-Length, Host, '
             'Transfer-Encoding or Connection.')
    filter_domain = fields.Char(
        string='Filter', default='[]', track_visibility='onchange',
        help='Only records that match it are sent: created records that match once created, '
             'updated records that match after the change, deleted records that matched before '
             'deletion. Literal values only.')
    active = fields.Boolean(default=True, track_visibility='onchange')
    inactive_reason = fields.Char(string='Deactivated because', readonly=True, copy=False)
    company_id = fields.Many2one('res.company', required=True, track_visibility='onchange',
                                 default=lambda self: self.env.user.company_id)
    rate_limit = fields.Integer(
        string='Max calls per minute', default=0, track_visibility='onchange',
        help='Deliveries beyond this many per 60 seconds wait their turn; 0 means no limit.')
    max_in_flight = fields.Integer(
        string='Max parallel requests', default=0, track_visibility='onchange',
        help='At most this many requests of this callback at once, per dispatcher; 0 means the '
             'per-endpoint limit (system parameter account_webhook.per_endpoint, 16 by default).')
    # scheme://host:port of the URL, kept in step by create/write (see `model` for why not computed):
    # per-endpoint limits and circuit breakers are keyed on it
    endpoint = fields.Char(readonly=True, index=True)
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
    revision = fields.Integer(default=1, readonly=True, copy=False)
    revision_info = fields.Char(string='Revision history', compute='_compute_revision_info')
    sample_payload = fields.Text(
        string='Sample payload structure', compute='_compute_sample_payload',
        help='Exactly what this callback sends, shown for the latest record of the model.')
    delivery_ids = fields.One2many('webhook.delivery', 'callback_id', string='Deliveries')
    # backfill (action_backfill asks, the cron _cron_backfill does it): written in SQL, not by
    # write(), which would count a revision and clear the capture's caches of every worker
    backfill_state = fields.Selection([('running', 'In progress'), ('done', 'Done')],
                                      string='Backfill', readonly=True, copy=False)
    backfill_total = fields.Integer(string='Backfill: records to send', readonly=True, copy=False)
    backfill_count = fields.Integer(string='Backfill: records queued', readonly=True, copy=False)
    backfill_last_id = fields.Integer(string='Backfill: queued up to record ID', readonly=True, copy=False)
    backfill_max_id = fields.Integer(string='Backfill: last record ID when asked', readonly=True, copy=False)
    backfill_batch_size = fields.Integer(string='Backfill: records per batch', readonly=True, copy=False)
    backfill_done_at = fields.Datetime(string='Backfill done at', readonly=True, copy=False)
    backfill_progress = fields.Char(string='Backfill progress', compute='_compute_backfill_progress')
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
            callback.revision_info = _('Revision #%(revision)s · Created %(created)s UTC by %(creator)s · '
                                       'Updated %(updated)s UTC by %(updater)s') % {
                'revision': callback.revision, 'created': callback.create_date, 'creator': callback.create_uid.name,
                'updated': callback.write_date, 'updater': callback.write_uid.name}

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

    @api.depends('backfill_state', 'backfill_total', 'backfill_count', 'backfill_done_at')
    def _compute_backfill_progress(self):
        for callback in self:
            count = formatLang(self.env, callback.backfill_count, digits=0)
            if callback.backfill_state == 'running':
                callback.backfill_progress = _('Backfill: %(count)s of %(total)s records queued') % {
                    'count': count,
                    'total': formatLang(self.env, max(callback.backfill_total, callback.backfill_count), digits=0)}
            elif callback.backfill_state == 'done':
                callback.backfill_progress = _('Backfill done: %(count)s records queued on %(date)s UTC') % {
                    'count': count, 'date': callback.backfill_done_at}
            else:
                callback.backfill_progress = False

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
        return ValidationError(_('Record model name: %(model)s cannot send callbacks. Supported: %(supported)s.') % {
            'model': model_name, 'supported': ', '.join(self._supported_models())})

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
                    raise ValidationError(_('Fields: %(field)s is not a field of %(model)s.') % {
                        'field': field.name, 'model': callback.model_id.model})
                if field.ttype in payload.UNTRACKABLE_TYPES or not field.store:
                    raise ValidationError(_('Fields: %s cannot be tracked (binary or not stored).') % field.name)
                if field.webhook_secret:
                    raise ValidationError(_('Fields: %s holds a secret (a password, token or key, or a field only '
                                            'some groups may read) and is never sent.') % field.name)
            if callback.action == 'update' and not callback.field_ids:
                raise ValidationError(_('Fields: an update callback needs at least one field to track.'))

    @api.constrains('url')
    def _check_url(self):
        for callback in self:
            self._checked_url(callback.url)

    @api.model
    def _checked_url(self, url):
        """The URL as it is stored and sent (sender.checked_url), or a ValidationError in the user's language."""
        try:
            return sender.checked_url(url)
        except ValueError as error:
            message, values = error.args
            raise ValidationError(_(message) % values) from None

    @api.constrains('headers')
    def _check_headers(self):
        for callback in self.sudo():
            self._check_headers_value(callback.headers)

    @api.model
    def _check_headers_value(self, text):
        seen = set()
        try:
            lines = list(sender.header_lines(text, strict=True))
        except ValueError:
            raise ValidationError(_('Extra headers: each line must be "Name: value".')) from None
        for name, value in lines:
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
            if len(name) + 1 + len(value) > sender.MAX_HEADER_LINE:
                raise ValidationError(_('Extra headers: the line of %(name)s is longer than %(most)s characters.') % {
                    'name': name, 'most': sender.MAX_HEADER_LINE})
        if len(lines) > sender.MAX_HEADERS or len(text or '') > sender.MAX_HEADERS_SIZE:
            raise ValidationError(_('Extra headers: at most %(lines)s lines and %(size)s characters in all.') % {
                'lines': sender.MAX_HEADERS, 'size': sender.MAX_HEADERS_SIZE})

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
                raise ValidationError(_('Filter: %(filter)s is not a valid filter for %(model)s: %(error)s') % {
                    'filter': text, 'model': model_name,
                    'error': tools.ustr(error).strip().splitlines()[0] if tools.ustr(error).strip()
                    else error.__class__.__name__}) from None

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
            vals['url'] = self._checked_url(vals['url'])
            vals['endpoint'] = sender.endpoint_of(vals['url'])
            vals['url_display'] = sender.redacted_url(vals['url'])
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
                raise ValidationError(_('Fields: %(field)s is not a field of %(model)s.') % {
                    'field': ', '.join(missing), 'model': model_name})
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
        if vals and all(name.startswith(MAIL_FIELDS) for name in vals):
            return super(WebhookCallback, self).write(vals)  # the chatter's bookkeeping: no revision
        vals = dict(vals)
        vals.pop('revision', None)
        if 'key' in vals:
            self._check_key_value(vals['key'])
            if 'previous_key' not in vals:  # a key written as such switches at once, as Regenerate key
                vals.update(previous_key=False, previous_key_expires=False)
        if 'model' in vals or 'field_names' in vals or 'model_id' in vals or 'url' in vals \
                or 'filter_domain' in vals:
            models_now = set(self.mapped('model'))
            vals = self._resolve_names(vals, current_model=models_now.pop() if len(models_now) == 1 else None)
        if vals.get('active'):
            vals.setdefault('inactive_reason', False)
        logged = [name for name in LOGGED_FIELDS if name in vals]
        before = {callback.id: {name: callback.sudo()[name] for name in logged} for callback in self}
        result = super(WebhookCallback, self).write(vals)
        if self.ids:
            self.env.cr.execute('UPDATE webhook_callback SET revision = revision + 1 WHERE id IN %s',
                                (tuple(self.ids),))
            self.invalidate_cache(['revision'], self.ids)
        if logged:
            self._log_changes(before)
        self.clear_caches()
        return result

    def _log_changes(self, before):
        """The audit trail of what mail.thread's tracking does not show (LOGGED_FIELDS): the
        tracked fields (many2many) and, without their values, the secrets; ``before``: their values
        before the write, per callback."""
        for callback in self:
            was = before.get(callback.id, {})
            now = {name: callback.sudo()[name] for name in was}
            lines = []
            if 'field_ids' in was and was['field_ids'] != now['field_ids']:
                lines.append(_('Fields: %(before)s → %(after)s') % {
                    'before': ', '.join(sorted(was['field_ids'].mapped('name'))) or '-',
                    'after': ', '.join(sorted(now['field_ids'].mapped('name'))) or '-'})
            if 'headers' in was and (was['headers'] or '') != (now['headers'] or ''):
                lines.append(_('Extra headers changed (their values are not shown).'))
            if 'key' in was and was['key'] != now['key'] and not self.env.context.get('webhook_key_logged'):
                lines.append(_('Unique key changed (its value is not shown); the previous key no longer signs.'))
            if lines:
                callback._log(*lines)

    def _log(self, *lines):
        """A note in the chatter (one line each), by the current user: no one is notified."""
        self.message_post(body='<br/>'.join(tools.html_escape(line) for line in lines), subtype='mail.mt_note')

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
        model = self.env[model_name] if model_name in self.env else None
        # a secret tracked by a callback of an earlier release is no longer sent (see payload.is_secret)
        return tuple((row[0], row[1], row[2],
                      tuple(name for name in row[3] if model is None or name not in model._fields
                            or not payload.is_secret(model._fields[name])),
                      tuple(self.browse()._filter_of(row[4])) or None)
                     for row in self.env.cr.fetchall())

    def _filter_of(self, text):
        try:
            return self._parse_filter(text)
        except (ValueError, SyntaxError, TypeError):
            return []

    # -- actions ---------------------------------------------------------------------------

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
        if claims.read_state(cr).held:
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

    @api.multi
    @api.returns('mail.message', lambda value: value.id)
    def message_post(self, *args, **kwargs):
        """Odoo 11 refuses to log anything for a user without an email address (integrators' XML-RPC
        users often have none): the chatter of a callback does not need one, its sender is then the
        company's address."""
        if 'email_from' not in kwargs and not self.env.user.email:
            kwargs['email_from'] = self._company_sender()
        return super(WebhookCallback, self).message_post(*args, **kwargs)

    def _company_sender(self):
        """The company's address, else the current user's (the cron's), else none."""
        company = (self[:1].company_id or self.env.user.company_id).sudo()
        if company.email:
            return formataddr((company.name, company.email))
        return formataddr((self.env.user.name, self.env.user.email)) if self.env.user.email else False

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

        One statement; per active callback, two probes of attempt indexes (FIRST_FAILURE_JOINS),
        whatever the number of attempts. Nothing in a held database (a copy: its failures are the
        original's, frozen; its held deliveries must still go out if an administrator keeps sending)."""
        if claims.read_state(self.env.cr).held:
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

    @api.multi
    def action_backfill(self, batch_size=BACKFILL_BATCH):
        """Ask for one ``create`` event (with ``"backfill": true``) per record of the model that
        exists now, that the callback sees (its company) and that matches its filter, archived
        ones included; returns at once (True).

        Records the request on the callback (state, total, where to continue from) and wakes the
        backfill cron (_cron_backfill), which writes the events in batches of ``batch_size``
        records in the order of their ids. Refused for an archived callback and while a backfill
        of the callback is in progress (asking again once it is done sends everything again).
        """
        self.check_access_rights('write')
        self.check_access_rule('write')
        if isinstance(batch_size, dict):  # the form's button (call_button) passes its context here
            batch_size = BACKFILL_BATCH
        batch_size = int(batch_size)
        if batch_size < 1:
            raise UserError(_('Backfill: the batch size must be at least 1.'))
        for callback in self:
            if not callback.active:
                raise UserError(_('Backfill: the callback %s is archived.') % callback.name)
            if callback.model not in self.env.registry:
                raise self._unsupported_model(callback.model)
            if callback.backfill_state == 'running':
                raise UserError(_('Backfill: the callback %(callback)s is already sending its existing records '
                                  '(%(progress)s). Wait until it is done.') % {
                                      'callback': callback.name, 'progress': callback.backfill_progress})
        cr = self.env.cr
        for callback in self:
            records = callback._backfill_records()
            cr.execute('SELECT max(id) FROM "%s"' % records._table)
            max_id = cr.fetchone()[0] or 0
            total = records.search_count(callback._backfill_domain(records) + [('id', '<=', max_id)])
            cr.execute("""UPDATE webhook_callback
                             SET backfill_state = 'running', backfill_total = %s, backfill_count = 0,
                                 backfill_last_id = 0, backfill_max_id = %s, backfill_batch_size = %s,
                                 backfill_done_at = NULL
                           WHERE id = %s""", (total, max_id, batch_size, callback.id))
            _logger.info('Callback %s: backfill of %s records asked', callback.id, total)
        self.invalidate_cache(ids=self.ids)
        batches.wake_cron(self.env, 'account_webhook.ir_cron_webhook_backfill')
        return True

    def _backfill_records(self):
        return self.env[self.model].sudo().with_context(active_test=False)

    def _backfill_domain(self, records):
        return self._company_domain(records) + self._filter()

    @api.model
    def _cron_backfill(self, max_seconds=BACKFILL_SECONDS):
        """The backfill cron (every minute): the batches of the backfills in progress, each batch
        its own transaction (committed, except in tests, as webhook.delivery._cron_housekeeping),
        for at most ``max_seconds``; what is left goes on at the next call. Returns how many
        records it queued."""
        commit = batches.cron_commits()
        return self._run_backfills(max_seconds, commit)

    @api.model
    def _run_backfills(self, max_seconds=BACKFILL_SECONDS, commit=False):
        callbacks = self.sudo().search([('backfill_state', '=', 'running')], order='id')
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit  # cron only, as the batches below

        def batch(callback):
            if callback.model not in self.env.registry:
                return 0, False  # its model's module was uninstalled: nothing to read
            count = callback._backfill_batch(commit)
            return (0, False) if count is None else (count, True)
        return batches.run_batches(callbacks, batch, max_seconds, commit,
                                   lambda callback: 'Callback %s: backfill' % callback.id)

    def _backfill_batch(self, commit):
        """One batch of this callback's backfill: the next ``backfill_batch_size`` records after
        ``backfill_last_id`` (up to ``backfill_max_id``) queued, progress written; the backfill is
        done when none is left. Returns how many were queued, None when there is nothing to do
        (done, or another runner holds the callback). Only one batch of records in memory."""
        cr = self.env.cr
        records = None
        try:
            cr.execute("""SELECT backfill_last_id, backfill_max_id, backfill_batch_size FROM webhook_callback
                           WHERE id = %s AND active AND backfill_state = 'running'
                             FOR NO KEY UPDATE SKIP LOCKED""", (self.id,))
            row = cr.fetchone()
            if not row:
                return None
            last_id, max_id, batch_size = row
            records = self._backfill_records()
            self.invalidate_cache(ids=self.ids)
            callback_id, model_name = self.id, self.model
            names = sorted(self.field_ids.mapped('name'))
            domain = [('id', '>', last_id), ('id', '<=', max_id)] + self._backfill_domain(records)
            batch_size = batch_size or BACKFILL_BATCH
            ids = records._search(domain, order='id', limit=batch_size)
            if not ids:
                cr.execute("""UPDATE webhook_callback SET backfill_state = 'done',
                                     backfill_done_at = now() at time zone 'UTC' WHERE id = %s""", (self.id,))
                _logger.info('Callback %s: backfill done', self.id)
            else:
                timestamp = payload.utc_timestamp()
                values = records.browse(ids)._webhook_values(names)
                rows = []
                for record_id in ids:
                    event_id = payload.new_event_id()
                    body = payload.OrderedDict((name, values[record_id][name]) for name in names)
                    rows.append((callback_id, event_id, model_name, record_id, 'create', payload.dumps(
                        model_name, 'create', record_id, body, event_id, timestamp, backfill=True)))
                self.env['webhook.delivery']._enqueue(rows)
                # a short batch is the last one: done at once, without one more transaction
                cr.execute("""UPDATE webhook_callback SET backfill_count = backfill_count + %s, backfill_last_id = %s,
                                     backfill_state = CASE WHEN %s THEN 'done' ELSE backfill_state END,
                                     backfill_done_at = CASE WHEN %s THEN now() at time zone 'UTC' END
                               WHERE id = %s""", (len(rows), ids[-1], len(ids) < batch_size,
                                                  len(ids) < batch_size, self.id))
            if commit:
                cr.commit()  # pylint: disable=invalid-commit  # cron only: one transaction a batch
        except Exception:
            if commit:
                cr.rollback()
            raise
        finally:
            self.invalidate_cache(ids=self.ids)
            if records is not None:
                records.invalidate_cache()  # only one batch of records in memory
        return len(ids) if ids else None

    @api.multi
    def action_view_deliveries(self):
        self.ensure_one()
        action = self.env.ref('account_webhook.webhook_delivery_action').read()[0]
        action['domain'] = [('callback_id', '=', self.id)]
        action['context'] = {'default_callback_id': self.id}
        return action
