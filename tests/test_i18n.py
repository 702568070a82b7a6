# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Every term of the addon's template has a Lithuanian translation (the seed's language)."""
import io
import os

from odoo.tools.translate import PoFile

from .conftest import ROOT

I18N = os.path.join(ROOT, 'account_webhook', 'i18n')


def terms(name):
    with open(os.path.join(I18N, name), 'rb') as handle:
        buffer = io.BytesIO(handle.read())
    reader = iter(PoFile(buffer))
    result = {}
    while True:
        try:
            entry = reader.next()
        except StopIteration:
            return result
        result[entry[3]] = entry[4]  # source -> translation


def test_lithuanian_covers_the_whole_template():
    template, lithuanian = terms('account_webhook.pot'), terms('lt.po')
    assert len(template) > 90 and set(lithuanian) == set(template)
    assert sorted(source for source, translation in lithuanian.items() if not translation) == []
    assert lithuanian['Callbacks'] == 'Atgaliniai skambučiai'
    assert lithuanian['Other Settings'] == 'Kiti nustatymai'
