# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A request shaped per callback, and its answer judged: for receivers that are someone else's API.

Pure functions, no database and no registry (the dispatcher calls them in its sender threads):

- ``render_path``: the callback's *Path template* (``/CreateInvoiceItem/{id}``) with the event's
  values, each percent-encoded; appended to the callback's URL, whose host never changes.
- ``render_body``: the *Body template*, a Python expression evaluated by Odoo's ``safe_eval``
  (no imports, no dunder attributes, no ``**``; Odoo's safe builtins only) over the event:
  ``object``, ``operation``, ``id``, ``values``, ``changed``, ``event_id``, ``backfill``,
  ``receiver_id`` and ``record`` (the record's values as the event captured them, so that a
  retry or a replay sends the same body), or, for a batch, ``events`` (a list of such events).
  Its value is sent as JSON. Without a template the body is the event JSON as stored
  (byte for byte), or a JSON array of them for a batch.
- ``judge``: the *Answer rule* (an expression over the JSON answer: its top-level keys by name,
  ``answer`` for all of it, ``status_code``), the message to show when the rule is broken
  (``message`` or a dotted path such as ``error.text``) and the receiver's id (``data.id``).

Whatever goes wrong raises ``ShapeError`` with a message for the delivery's log; nothing else.
"""
import ast
import functools
import importlib
import json
import re
from collections import OrderedDict
from urllib.parse import quote


PLACEHOLDER = re.compile(r'\{([A-Za-z_][A-Za-z0-9_]*)\}')
EVENT_NAMES = ('object', 'operation', 'id', 'values', 'changed', 'event_id', 'backfill', 'receiver_id', 'record')
MAX_BODY = 1024 * 1024  # bytes of a rendered body
MAX_TEMPLATE = 20000  # characters of a template or rule


# the module, not the function odoo.tools exports under the same name (the compatibility layer may
# widen its opcode set after import: it is read at each check)
safe_eval_module = importlib.import_module('odoo.tools.safe_eval')


class ShapeError(ValueError):
    """A template or a rule that cannot do its work for this event; ``str()`` says why.
    ``unknown``: it names what no event has (a field not tracked, a name not given): refused at
    save; other errors depend on the record (an empty value) and fail only that delivery."""

    def __init__(self, message, unknown=False):
        super(ShapeError, self).__init__(message)
        self.unknown = unknown


def check_expression(text, what):
    """Refuse at save what could never run safely: not an expression, forbidden names or bytecode
    (safe_eval's own check), ``**`` and a literal repeated by ``*`` (a body of gigabytes)."""
    if len(text) > MAX_TEMPLATE:
        raise ShapeError('%s: at most %d characters.' % (what, MAX_TEMPLATE))
    try:
        tree = ast.parse(text.strip(), mode='eval')
    except SyntaxError as error:
        raise ShapeError('%s: not a Python expression (%s).' % (what, error.msg)) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            raise ShapeError('%s: ** is not allowed.' % what)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) and any(
                _repeatable(side) for side in (node.left, node.right)):
            raise ShapeError('%s: repeating a text or a list with * is not allowed.' % what)
        if isinstance(node, (ast.Lambda, ast.GeneratorExp)):
            raise ShapeError('%s: lambda and generator expressions are not allowed.' % what)
        private = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ''
        if private.startswith('_'):
            raise ShapeError('%s: %s is not allowed (names starting with _ are private).' % (what, private))
    return text.strip()


def _repeatable(node):
    """A literal text, bytes, list or tuple (what ``*`` would repeat), whatever Python's AST calls it."""
    if isinstance(node, (ast.List, ast.Tuple, ast.ListComp)) or type(node).__name__ == 'JoinedStr':
        return True
    value = getattr(node, 'value', getattr(node, 's', None))
    return type(node).__name__ in ('Constant', 'Str', 'Bytes') and isinstance(value, (str, bytes))


@functools.lru_cache(maxsize=512)
def _compiled(text, what):
    """The expression checked (check_expression, then safe_eval's own check of names and bytecode)
    and compiled once: a callback's template is the same for all its events."""
    check_expression(text, what)
    try:
        return safe_eval_module.test_expr(text.strip(), safe_eval_module._SAFE_OPCODES, mode='eval')
    except Exception as error:  # pylint: disable=broad-except  # a forbidden name or opcode: its message
        raise ShapeError('%s: %s' % (what, str(error).strip().splitlines()[0][:500] if str(error).strip()
                                     else error.__class__.__name__)) from None


def _evaluate(text, names, what):
    """``text`` evaluated as Odoo's safe_eval does (its builtins only), ``names`` as its globals."""
    code = _compiled(text, what)
    scope = dict(names)
    scope['__builtins__'] = safe_eval_module._BUILTINS
    try:
        return eval(code, scope)  # pylint: disable=eval-used  # checked by safe_eval's test_expr above
    except Exception as error:  # pylint: disable=broad-except  # whatever the expression does: its error
        if isinstance(error, (KeyError, NameError)):
            found = re.search(r"name '(\w+)'", str(error)) if isinstance(error, NameError) else None
            name = found.group(1) if found else error.args[0] if error.args else error.__class__.__name__
            raise ShapeError('%s: %s is not in this event (a field the callback does not track, or a name the '
                             'template does not know)' % (what, str(name)[:200]), unknown=True) from None
        message = str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__
        raise ShapeError('%s: %s: %s' % (what, error.__class__.__name__, message[:500])) from None


def event_names(event, receiver_id=None):
    """What a template sees of one event (its stored JSON, parsed) and the receiver's id."""
    values = event.get('values') or {}
    return OrderedDict([
        ('object', event.get('object')), ('operation', event.get('operation')), ('id', event.get('id')),
        ('values', values), ('changed', event.get('changed') or []), ('event_id', event.get('event_id')),
        ('backfill', bool(event.get('backfill'))), ('receiver_id', receiver_id), ('record', values)])


def render_path(template, event, receiver_id=None):
    """The path template with ``{name}`` replaced, each value percent-encoded (``/`` too): a name of
    EVENT_NAMES or a tracked field of ``values`` holding a text or a number."""
    if not template:
        return ''
    names = event_names(event, receiver_id)

    def value(match):
        name = match.group(1)
        found = names[name] if name in names and name not in ('values', 'record', 'changed') else \
            (names['values'].get(name, KeyError) if isinstance(names['values'], dict) else KeyError)
        if found is KeyError:
            raise ShapeError('Path template: {%s} is neither an event value (%s) nor a tracked field.' % (
                name, ', '.join(n for n in EVENT_NAMES if n not in ('values', 'record', 'changed'))), unknown=True)
        if found is None or found is False or found == '':
            if name == 'receiver_id':
                raise ShapeError('Path template: {receiver_id} is not known yet for %s %s: the receiver has '
                                 'not returned an id for it.' % (event.get('object'), event.get('id')))
            raise ShapeError('Path template: {%s} is empty for this event.' % name)
        if isinstance(found, bool) or not isinstance(found, (str, int, float)):
            raise ShapeError('Path template: {%s} is not a text or a number.' % name)
        return quote(str(found), safe='')
    return PLACEHOLDER.sub(value, template)


def check_path(template):
    """Refuse at save a path template that cannot become part of a URL."""
    if not template:
        return ''
    template = template.strip()
    if len(template) > 1000 or not template.startswith('/') or any(
            char in template for char in ' \t\r\n#') or any(ord(char) < 33 or ord(char) > 126 for char in template):
        raise ShapeError('Path template: it must start with / and hold printable ASCII without spaces or #, at '
                         'most 1000 characters (e.g. /CreateInvoiceItem/{id}).')
    if '{' in PLACEHOLDER.sub('', template) or '}' in PLACEHOLDER.sub('', template):
        raise ShapeError('Path template: a placeholder is written {name}, e.g. {id} or {receiver_id}.')
    return template


def render_body(template, events, receiver_ids, batch=False):
    """The body (bytes) for one event, or for a batch (``events``, ``receiver_ids``: in order)."""
    if not template:
        if not batch:
            return events[0].encode('utf-8') if isinstance(events[0], str) else events[0]
        return b'[' + b','.join(event.encode('utf-8') if isinstance(event, str) else event
                                for event in events) + b']'
    parsed = [json.loads(event, object_pairs_hook=OrderedDict) for event in events]
    if batch:
        names = {'events': [event_names(event, receiver_id) for event, receiver_id in zip(parsed, receiver_ids)]}
    else:
        names = event_names(parsed[0], receiver_ids[0])
    value = _evaluate(template, names, 'Body template')
    try:
        body = json.dumps(value, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
    except (TypeError, ValueError) as error:
        raise ShapeError('Body template: its value cannot be sent as JSON (%s).' % error) from None
    if len(body) > MAX_BODY:
        raise ShapeError('Body template: the body is larger than %d bytes.' % MAX_BODY)
    return body


def json_path(data, path):
    """The value at a dotted path (``data.id``, ``errors.0.text``); None when it is not there."""
    for step in path.split('.'):
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data


def check_path_expression(path, what):
    if path and not re.match(r'^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$', path.strip()):
        raise ShapeError('%s: a dotted path such as data.id or message.' % what)
    return (path or '').strip()


def judge(rule, message_path, id_path, status_code, answer):
    """``(accepted, message, receiver id)`` of a 2xx answer (bytes). Without a rule any 2xx is
    accepted; with one, the rule must be true of the JSON answer. The message (at
    ``message_path``, else the answer's excerpt) says why it was not. The receiver's id (at
    ``id_path``) is a text of at most 200 characters, or None."""
    data = None
    if rule or id_path or message_path:
        try:
            data = json.loads(answer.decode('utf-8')) if answer else None
        except ValueError:
            data = None
    accepted = True
    if rule:
        names = dict(data) if isinstance(data, dict) else {}
        names = {name: value for name, value in names.items() if re.match(r'^[A-Za-z][A-Za-z0-9_]*$', name)}
        names.update(answer=data, status_code=status_code)
        try:
            accepted = bool(_evaluate(rule, names, 'Answer rule'))
        except ShapeError as error:
            if data is None:
                raise ShapeError('Answer rule: the answer is not JSON.') from None
            raise error
    message = None
    if not accepted:
        found = json_path(data, message_path) if message_path else None
        message = str(found)[:1000] if found not in (None, '') else None
    receiver_id = None
    if accepted and id_path:
        found = json_path(data, id_path)
        if isinstance(found, (str, int)) and not isinstance(found, bool) and str(found).strip():
            receiver_id = str(found).strip()[:200]
    return accepted, message, receiver_id
