# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A callback: what an administrator sets up (its fields, their validation, the XML-RPC
conveniences, the ORM overrides with the audit trail) and the capture's lookup of active callbacks.

Other concerns of the same model, each in its own file (``_inherit``): keys and their rotation
(``webhook_callback_key.py``), health, alerts and the test event (``webhook_callback_health.py``),
sending existing records (``webhook_callback_backfill.py``), a copied database
(``webhook_copy.py``).
"""
import ast
import json
import logging
from email.utils import formataddr

from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools.misc import OrderedSet

from .. import params, payload, sender
from .webhook_mixin import DISABLED_PARAM

_logger = logging.getLogger(__name__)

# mail.thread's own bookkeeping: writing only these is no revision of the callback
MAIL_FIELDS = ('message_', 'activity_', 'website_message_ids')
LOGGED_FIELDS = ('field_ids', 'headers', 'key')  # changes logged by _log_changes (tracking cannot show them)
# what the capture's lookup (_active_callbacks) reads: writing anything else keeps its cache
CAPTURE_FIELDS = ('active', 'action', 'model', 'model_id', 'company_id', 'field_ids', 'field_names',
                  'filter_domain')


class WebhookCallback(models.Model):
    _name = 'webhook.callback'
    _inherit = ['mail.thread']
    _description = 'Callback'
    _order = 'name, id'

    name = fields.Char(required=True, track_visibility='onchange')
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
    revision = fields.Integer(default=1, readonly=True, copy=False)
    revision_info = fields.Char(string='Revision history', compute='_compute_revision_info')
    sample_payload = fields.Text(
        string='Sample payload structure', compute='_compute_sample_payload',
        help='Exactly what this callback sends, shown for the latest record of the model.')
    delivery_ids = fields.One2many('webhook.delivery', 'callback_id', string='Deliveries')
    delivery_count = fields.Integer(string='Number of deliveries', compute='_compute_delivery_count')

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
    def _compute_delivery_count(self):
        """One count per callback in SQL (an index-only scan of the callback_id index), with the
        deliveries' access rules: read_group would read every delivery row for its min(id)."""
        counts = {}
        if self.ids:
            deliveries = self.env['webhook.delivery']
            deliveries.check_access_rights('read')
            deliveries._expand_events()
            query = deliveries._where_calc([('callback_id', 'in', self.ids)])
            deliveries._apply_ir_rules(query, 'read')
            from_clause, where_clause, params = query.get_sql()
            self.env.cr.execute('SELECT "webhook_delivery".callback_id, count(*) FROM %s WHERE %s GROUP BY 1'
                                % (from_clause, where_clause), params)
            counts = dict(self.env.cr.fetchall())
        for callback in self:
            callback.delivery_count = counts.get(callback.id, 0)

    # -- validation ----------------------------------------------------------------------

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
        if any(name in vals for name in CAPTURE_FIELDS):
            self.clear_caches()  # the capture's lookup, in every worker (Odoo's cache signaling)
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
        filter domain)`` (the domain is ``None`` without a filter); none while an administrator
        switched capture off (``account_webhook.capture_disabled``).

        Cached per registry, cleared whenever a callback or a system parameter changes: a write
        on a model costs no query.
        """
        self.env.cr.execute('SELECT value FROM ir_config_parameter WHERE key = %s', (DISABLED_PARAM,))
        row = self.env.cr.fetchone()
        if params.switched_off(row[0] if row else ''):
            return ()
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

    @api.constrains('max_in_flight', 'rate_limit')
    def _check_limits(self):
        for callback in self:
            if callback.max_in_flight < 0 or callback.rate_limit < 0:
                raise ValidationError(_('Max calls per minute and Max parallel requests cannot be negative.'))

    @api.multi
    def action_view_deliveries(self):
        self.ensure_one()
        action = self.env.ref('account_webhook.webhook_delivery_action').read()[0]
        action['domain'] = [('callback_id', '=', self.id)]
        action['context'] = {'default_callback_id': self.id}
        return action
