# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Python 3.11 compatibility layer: each patch, exercised the way Odoo uses it."""
import base64
import collections
import inspect
import time
import xml.etree.ElementTree as ElementTree

import pytest
import yaml
from lxml import etree

import odoo
from odoo.addons.base.ir.ir_qweb.qweb import QWeb
from odoo.tools.safe_eval import safe_eval


def test_odoo_11_imports_on_this_python():
    assert odoo.release.version_info[:2] == (11, 0)
    assert collections.Mapping is collections.abc.Mapping


def test_removed_stdlib_functions_are_restored():
    def sample(a, b=2, *args, **kw):
        pass
    spec = inspect.getargspec(sample)
    assert (spec.args, spec.varargs, spec.keywords, spec.defaults) == (['a', 'b'], 'args', 'kw', (2,))
    assert inspect.formatargspec(*spec) == '(a, b=2, *args, **kw)'
    assert time.clock() >= 0
    assert base64.decodestring(base64.encodestring(b'icon')) == b'icon'


def test_elementtree_getchildren_for_the_webclient_templates():
    root = ElementTree.fromstring('<templates><t t-name="A"/><t t-name="B"/></templates>')
    assert [child.get('t-name') for child in root.getchildren()] == ['A', 'B']


def test_yaml_load_without_loader_as_odoo_data_files_do():
    assert yaml.load('- !!python/tuple [1, 2]\n- a: true') == [(1, 2), {'a': True}]


@pytest.mark.parametrize('expr, expected', [
    ("{'a': True, 'b': None}", {'a': True, 'b': None}),
    ("[('state', '=', 'draft'), ('type', 'in', ['out_invoice', 'out_refund'])]",
     [('state', '=', 'draft'), ('type', 'in', ['out_invoice', 'out_refund'])]),
    ("{'default_type': 'out_invoice', 'journal_type': context.get('journal_type', 'sale')}",
     {'default_type': 'out_invoice', 'journal_type': 'sale'}),
    ("'%s - %s' % (name, 2)", 'X - 2'),
    ("[(6, 0, [ref('base.group_user')])]", [(6, 0, [7])]),
    ("name if name is not None else False", 'X'),
    ("'X' in [name] and not context", True),
    ("[x * 2 for x in range(3) if x]", [2, 4]),
    ("dict(a=1, **{'b': 2})", {'a': 1, 'b': 2}),
    ("max(set([3, 1]), key=abs) + -1", 2),
    ("time.strftime('%Y') == str(datetime.date.today().year)", True),
])
def test_safe_eval_of_expressions_odoo_data_files_use(expr, expected):
    import datetime
    context = {'name': 'X', 'context': {}, 'ref': lambda xmlid: 7, 'time': time, 'datetime': datetime}
    assert safe_eval(expr, context) == expected


def test_safe_eval_exec_mode_as_server_actions_use_it():
    context = {'records': [1, 2]}
    safe_eval("total = 0\nfor r in records:\n    total += r\naction = {'total': total}",
              context, mode='exec', nocopy=True)
    assert context['action'] == {'total': 3}


@pytest.mark.parametrize('expr, error', [
    ("__import__('os')", NameError),        # dunder names are refused before evaluation
    ("().__class__.__bases__", NameError),
    ("open('/etc/passwd')", ValueError),    # not among safe_eval's builtins
])
def test_safe_eval_still_refuses_unsafe_code(expr, error):
    with pytest.raises(error):
        safe_eval(expr, {})


def test_qweb_renders_a_template():
    template = etree.fromstring(
        '<div t-name="t"><t t-set="label">Total</t>'
        '<span t-foreach="items" t-as="item" t-att-class="item_first and \'first\' or None">'
        '<t t-esc="item"/></span>'
        '<b t-if="flag is None">none</b><i t-else="">set</i><t t-esc="label"/></div>')
    html = QWeb().render(template, {'items': ['a', 'b'], 'flag': None})
    assert html == (b'<div><span class="first">a</span><span>b</span><b>none</b>Total</div>'
                    if isinstance(html, bytes) else
                    '<div><span class="first">a</span><span>b</span><b>none</b>Total</div>')


def test_prefork_worker_limits_accept_float_cpu_seconds():
    # Worker.process_limit sets RLIMIT_CPU to the CPU seconds used so far (a float) + limit_time_cpu
    import resource
    from odoo.service import server
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    server.resource.setrlimit(resource.RLIMIT_CPU, (float(soft), hard))
    assert resource.getrlimit(resource.RLIMIT_CPU) == (soft, hard)
    assert server.resource.RLIMIT_AS == resource.RLIMIT_AS and server.resource.getrusage is resource.getrusage


def test_prefork_worker_process_limit_runs_in_a_worker_process():
    # The real call, in a process of its own (it lowers the address-space limit of its caller).
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = (
        "import odoo_compat; odoo_compat.install(); import odoo; odoo_compat.patch_odoo()\n"
        "import os, resource\n"
        "from odoo.service import server\n"
        "worker = server.WorkerHTTP(server.PreforkServer(None))\n"
        "worker.pid = os.getpid()\n"
        "worker.process_limit()\n"
        "print(resource.getrlimit(resource.RLIMIT_CPU)[0], resource.getrlimit(resource.RLIMIT_AS)[0])\n")
    done = subprocess.run([sys.executable, '-c', script], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    cpu_limit, memory_limit = map(int, done.stdout.split())
    assert 60 <= cpu_limit <= 70  # limit_time_cpu (60 s) after the little CPU time the process used
    assert memory_limit == odoo.tools.config['limit_memory_hard']
