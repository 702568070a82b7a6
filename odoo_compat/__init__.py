# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Run Odoo 11.0 on Python 3.11.

Odoo 11 supports Python 3.5 to 3.7. This package restores, before and right
after ``odoo`` is imported, the few things newer Pythons and libraries removed
or changed. It is not part of the addon: the launcher (``scripts/odoo``) and
the pytest plugin (``odoo_compat.pytest_plugin``) load it; the addon itself
stays plain Odoo 11 code.

Use::

    import odoo_compat
    odoo_compat.install()      # before ``import odoo``
    import odoo
    odoo_compat.patch_odoo()   # after: patches Odoo's own modules

Each patch names what it restores and why, and does nothing where the running
Python still has the original.
"""
import ast
import base64
import builtins
import collections
import collections.abc
import inspect
import math
import sys
import time
import types

_installed = False
_odoo_patched = False


def install():
    """Patch the standard library and third-party modules; call before ``import odoo``."""
    global _installed
    if _installed:
        return
    _installed = True

    # collections.Mapping & co. moved to collections.abc (3.10); odoo.tools.misc imports them from collections.
    for name in collections.abc.__all__:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))

    # inspect.getargspec / formatargspec were removed (3.11); odoo.tools.cache and odoo.api use them.
    if not hasattr(inspect, 'getargspec'):
        inspect.getargspec = _getargspec
    if not hasattr(inspect, 'formatargspec'):
        inspect.formatargspec = _formatargspec

    # time.clock was removed (3.8); Odoo's profilers and a few modules still call it.
    if not hasattr(time, 'clock'):
        time.clock = time.perf_counter

    # base64.encodestring / decodestring were removed (3.9); menu icons and attachments use them.
    if not hasattr(base64, 'encodestring'):
        base64.encodestring = base64.encodebytes
    if not hasattr(base64, 'decodestring'):
        base64.decodestring = base64.decodebytes

    # Element.getchildren() was removed (3.9); the web client's /web/webclient/qweb calls it
    # on xml.etree elements. The C Element type cannot take new methods, so use the pure-Python one.
    _use_python_elementtree()

    # PyYAML 6 made yaml.load's Loader mandatory; Odoo 11 loads module .yml data with a bare yaml.load().
    _default_yaml_loader()


def patch_odoo():
    """Patch Odoo's own modules; call once ``odoo`` has been imported."""
    global _odoo_patched
    if _odoo_patched:
        return
    _odoo_patched = True
    _allow_new_opcodes_in_safe_eval()
    _fix_qweb_ast()
    _integer_rlimits_for_prefork()


_ArgSpec = collections.namedtuple('ArgSpec', 'args varargs keywords defaults')


def _getargspec(func):
    spec = inspect.getfullargspec(func)
    return _ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)


def _formatargspec(args, varargs=None, varkw=None, defaults=None, *_ignored, **_kw):
    params = []
    first_default = len(args) - len(defaults or ())
    for index, arg in enumerate(args):
        if defaults and index >= first_default:
            params.append('%s=%r' % (arg, defaults[index - first_default]))
        else:
            params.append(arg)
    if varargs:
        params.append('*' + varargs)
    if varkw:
        params.append('**' + varkw)
    return '(%s)' % ', '.join(params)


def _use_python_elementtree():
    import xml.etree.ElementTree as loaded
    if hasattr(loaded.Element, 'getchildren'):
        return
    # Block the C accelerator and re-import, so the module (and everything that imports it
    # from now on) gets the pure-Python Element, which accepts the method.
    sys.modules['_elementtree'] = None
    del sys.modules['xml.etree.ElementTree']
    import xml.etree.ElementTree as python_et
    import xml.etree
    xml.etree.ElementTree = python_et
    python_et.Element.getchildren = lambda self: list(self)


def _default_yaml_loader():
    import yaml
    original = yaml.load
    if getattr(original, '_odoo_compat', False):
        return

    def load(stream, Loader=None):
        return original(stream, Loader=Loader or yaml.Loader)
    load._odoo_compat = True
    yaml.load = load


# Opcodes that Python 3.6-3.11 compile ordinary expressions to and that Odoo 11's
# safe_eval does not know; the same set later Odoo series whitelist. None of them
# gives access to anything an allowed opcode did not already give.
_NEW_EXPR_OPCODES = [
    'BINARY_OP',                       # 3.11: all binary and in-place operators
    'IS_OP', 'CONTAINS_OP',            # 3.9: `is`, `in`
    'DICT_MERGE', 'DICT_UPDATE', 'LIST_EXTEND', 'LIST_TO_TUPLE', 'SET_UPDATE',  # 3.9 literals
    'FORMAT_VALUE', 'BUILD_STRING',    # f-strings and '%s' % x in 3.11
    'RESUME', 'CACHE', 'NOP', 'PUSH_NULL', 'COPY', 'SWAP',                     # 3.11 housekeeping
    'RETURN_GENERATOR', 'MAKE_CELL', 'COPY_FREE_VARS', 'LOAD_DEREF', 'LOAD_CLOSURE',  # comprehensions
]
_NEW_SAFE_OPCODES = _NEW_EXPR_OPCODES + [
    'PRECALL', 'CALL', 'KW_NAMES',     # 3.11 calls
    'JUMP_BACKWARD', 'JUMP_BACKWARD_NO_INTERRUPT',
    'POP_JUMP_FORWARD_IF_FALSE', 'POP_JUMP_FORWARD_IF_TRUE',
    'POP_JUMP_BACKWARD_IF_FALSE', 'POP_JUMP_BACKWARD_IF_TRUE',
    'POP_JUMP_FORWARD_IF_NONE', 'POP_JUMP_BACKWARD_IF_NONE',
    'POP_JUMP_FORWARD_IF_NOT_NONE', 'POP_JUMP_BACKWARD_IF_NOT_NONE',
    'JUMP_IF_FALSE_OR_POP', 'JUMP_IF_TRUE_OR_POP',
    'UNPACK_EX', 'CALL_FUNCTION_EX', 'LOAD_METHOD',
]


def _allow_new_opcodes_in_safe_eval():
    # safe_eval whitelists opcodes by name; 3.11 compiles even {'a': True} to unknown ones.
    from opcode import opmap
    safe_eval = sys.modules['odoo.tools.safe_eval']  # the package attribute is the function
    safe_eval._EXPR_OPCODES.update(opmap[n] for n in _NEW_EXPR_OPCODES if n in opmap)
    safe_eval._SAFE_OPCODES.update(opmap[n] for n in _NEW_SAFE_OPCODES if n in opmap)


class _AstModernizer(ast.NodeTransformer):
    """Turn the ASTs that QWeb builds by hand for Python 3.5 into ones 3.8+ compiles."""

    def visit_Name(self, node):
        # 3.8+ refuses Name('None'/'True'/'False'); they are constants now.
        if node.id in ('None', 'True', 'False'):
            return ast.copy_location(ast.Constant(value={'None': None, 'True': True, 'False': False}[node.id]), node)
        return node

    def visit_arguments(self, node):
        # 3.8 added the mandatory posonlyargs field.
        if not getattr(node, 'posonlyargs', None):
            node.posonlyargs = []
        return self.generic_visit(node)


def _compile_modern(source, filename, mode, *args, **kwargs):
    if isinstance(source, ast.AST):
        source = ast.fix_missing_locations(_AstModernizer().visit(source))
        # 3.11 validates end positions; hand-built nodes carry inconsistent ones.
        for node in ast.walk(source):
            if 'lineno' in node._attributes:
                node.end_lineno = node.lineno
                node.end_col_offset = node.col_offset
    return builtins.compile(source, filename, mode, *args, **kwargs)


def _fix_qweb_ast():
    # QWeb compiles templates from hand-built ASTs: give its module a compile() that modernizes them.
    from odoo.addons.base.ir.ir_qweb import qweb
    qweb.compile = _compile_modern


class _IntegerRlimits(types.ModuleType):
    """The ``resource`` module, except that setrlimit rounds float limits up to integers."""

    def __init__(self, resource):
        super().__init__(resource.__name__, resource.__doc__)
        self._resource = resource

    def __getattr__(self, name):
        return getattr(self._resource, name)

    def setrlimit(self, which, limits):
        return self._resource.setrlimit(which, tuple(math.ceil(limit) for limit in limits))


def _integer_rlimits_for_prefork():
    # 3.10 refuses floats for C ints: Worker.process_limit passes CPU seconds as a float to setrlimit.
    from odoo.service import server
    if getattr(server, 'resource', None) is not None and not isinstance(server.resource, _IntegerRlimits):
        server.resource = _IntegerRlimits(server.resource)
