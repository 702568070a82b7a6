# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# pylint: disable=consider-merging-classes-inherited  # webhook.callback is split by concern on purpose
"""The request a callback sends and how it reads the answer, for receivers that are someone
else's API: the method, a path template, a body template, an answer rule with its message, the
receiver's id, batches. The defaults send today's event JSON by POST and take any 2xx: a
callback that sets none of them is unchanged. The rendering and the judging are ``shaping.py``
(pure, run by the dispatcher); here: the fields, their validation at save, the form's preview."""
import json

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .. import sender, shaping

MAX_BATCH = 1000  # events in one request, at most


class WebhookCallback(models.Model):
    _inherit = 'webhook.callback'

    method = fields.Selection(
        [('POST', 'POST'), ('PUT', 'PUT'), ('PATCH', 'PATCH'), ('DELETE', 'DELETE')],
        string='HTTP method', default='POST', track_visibility='onchange',
        help='Empty: POST.')
    path_template = fields.Char(
        string='Path template', track_visibility='onchange',
        help='Appended to the callback URL, with {id}, {receiver_id}, {object}, {operation}, {event_id} or a '
             'tracked field such as {partner_id} replaced by its value, e.g. /CreateInvoiceItem/{id}.')
    body_template = fields.Text(
        string='Body template',
        help='Empty: the event JSON. Else a Python expression (Odoo\'s safe_eval) whose value is sent as JSON, '
             'over object, operation, id, values (the tracked fields), changed, event_id, backfill, receiver_id '
             'and record (the values as the event captured them); for batches over events, a list of those. '
             'E.g. {"description": values["name"], "amount": values["amount_total"]}')
    answer_rule = fields.Char(
        string='Answer rule', track_visibility='onchange',
        help='Empty: any 2xx answer is a success. Else an expression over the JSON answer (its keys by name, '
             'answer for all of it, status_code) that must be true, e.g. status == "successful". A 2xx answer '
             'that breaks it is a failed attempt, retried on the retry schedule.')
    answer_message_path = fields.Char(
        string='Answer message', help='Where the answer says why it refused (a dotted path), e.g. message.')
    receiver_id_path = fields.Char(
        string="Receiver's id",
        help='Where a successful answer gives the id the receiver gave the record (a dotted path), e.g. '
             'data.id. Kept per record, shown on the delivery, and usable as {receiver_id} in templates of '
             'callbacks posting to the same URL.')
    batch_size = fields.Integer(
        string='Events per request', default=1, track_visibility='onchange',
        help='Above 1: up to this many events of this callback go in one request (a JSON array, or the body '
             'template over events), one record each at most; each event gets its attempt.')
    request_preview = fields.Text(string='Request preview', compute='_compute_request_preview',
                                  help='The request this callback would send for the sample record.')

    def _sample_event(self):
        """The form's sample payload as stored JSON (None when there is none)."""
        return json.dumps(json.loads(self.sample_payload)) if self.sample_payload else None

    def _render_request(self, event, receiver_id='1'):
        """``(method, url, body bytes)`` for one stored event (JSON text), or ShapeError."""
        parsed = json.loads(event)
        url = self.url + shaping.render_path(self.path_template, parsed, receiver_id) if self.url else ''
        batch = (self.batch_size or 1) > 1
        body = shaping.render_body(self.body_template, [event], [receiver_id], batch=batch)
        return self.method or 'POST', url, body

    @api.depends('sample_payload', 'method', 'url', 'path_template', 'body_template', 'batch_size')
    def _compute_request_preview(self):
        for callback in self:
            event = callback._sample_event()
            if not event:
                callback.request_preview = False
                continue
            try:
                method, url, body = callback._render_request(event)
            except shaping.ShapeError as error:
                callback.request_preview = _('This request cannot be built: %s') % error
                continue
            try:
                shown = json.dumps(json.loads(body.decode('utf-8')), indent=2, ensure_ascii=False)
            except ValueError:
                shown = body.decode('utf-8', 'replace')
            callback.request_preview = '%s %s\n\n%s' % (method, sender.redacted_url(url), shown)

    @api.constrains('path_template', 'body_template', 'answer_rule', 'answer_message_path', 'receiver_id_path',
                    'batch_size', 'field_ids', 'model_id', 'action')
    def _check_request(self):
        for callback in self:
            if not 1 <= (callback.batch_size or 0) <= MAX_BATCH:
                raise ValidationError(_('Events per request: from 1 to %s.') % MAX_BATCH)
            try:
                shaping.check_path(callback.path_template)
                if callback.body_template:
                    shaping.check_expression(callback.body_template, 'Body template')
                if callback.answer_rule:
                    shaping.check_expression(callback.answer_rule, 'Answer rule')
                shaping.check_path_expression(callback.answer_message_path, 'Answer message')
                shaping.check_path_expression(callback.receiver_id_path, "Receiver's id")
            except shaping.ShapeError as error:
                raise ValidationError(str(error)) from None
            event = callback._sample_event()
            try:  # with the form's sample record: what no event of the callback has is refused now
                if event:
                    callback._render_request(event)
            except shaping.ShapeError as error:
                if error.unknown:
                    raise ValidationError(str(error)) from None

    @api.onchange('path_template', 'body_template', 'answer_rule', 'answer_message_path', 'receiver_id_path')
    def _onchange_request(self):
        """Spaces around what an administrator pastes are not part of it."""
        for name in ('path_template', 'answer_rule', 'answer_message_path', 'receiver_id_path'):
            if self[name]:
                self[name] = self[name].strip()
