#!/usr/bin/env python3
# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Generate an addon's README.rst from its ``readme/`` fragments, the OCA way.

OCA's ``oca-gen-addon-readme`` (maintainer-tools) is not on the package index this project
installs from, so this script writes the same layout without any dependency:

- the addon's name as the title (``=`` over and under), a comment saying the file is generated,
  badges for the licence and the repository;
- ``readme/DESCRIPTION.rst``, then ``**Table of contents**`` and ``.. contents::``;
- one section per fragment present, in OCA's order: Use Cases / Context (CONTEXT),
  Installation (INSTALL), Configuration (CONFIGURE), Usage (USAGE), Development (DEVELOP),
  Known issues / Roadmap (ROADMAP), Changelog (HISTORY);
- Bug Tracker, then Credits: Authors (from the manifest), Contributors (CONTRIBUTORS),
  Other credits (CREDITS) and Maintainers (the manifest's ``maintainers``, the repository).

The organisation and repository come from the manifest's GitHub ``website``, the branch from its
``version`` (``11.0.4.0.0`` → ``11.0``). Like OCA's tool, the output depends on the fragments and the
manifest only (no date, no digest of the other files), so it changes only when they do, and
``static/description/index.html`` is left alone when it was written by hand.

Usage::

    python3 scripts/gen_readme.py [--check] [ADDON_DIR]   (ADDON_DIR: account_webhook by default)

Without ``--check`` it (re)writes ADDON_DIR/README.rst when it differs. With ``--check`` it writes
nothing, and exits 1, with a diff, when README.rst is not what the fragments give.
"""
import argparse
import ast
import difflib
import io
import os
import re
import sys
from urllib.parse import quote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ADDON = os.path.join(ROOT, 'account_webhook')
FRAGMENTS_DIR = 'readme'
# (fragment, section title), in the order of OCA's template
SECTIONS = (
    ('CONTEXT', 'Use Cases / Context'),
    ('INSTALL', 'Installation'),
    ('CONFIGURE', 'Configuration'),
    ('USAGE', 'Usage'),
    ('DEVELOP', 'Development'),
    ('ROADMAP', 'Known issues / Roadmap'),
    ('HISTORY', 'Changelog'),
)
CREDIT_SECTIONS = (
    ('CONTRIBUTORS', 'Contributors'),
    ('CREDITS', 'Other credits'),
)
FRAGMENTS = ('DESCRIPTION',) + tuple(name for name, _title in SECTIONS + CREDIT_SECTIONS)
LEVEL3 = '~'  # the underline of Credits' subsections, as in OCA's 11.0 READMEs and HISTORY.rst

LICENSE_BADGES = {
    'AGPL-3': ('https://img.shields.io/badge/licence-AGPL--3-blue.png',
               'http://www.gnu.org/licenses/agpl-3.0-standalone.html', 'License: AGPL-3'),
    'LGPL-3': ('https://img.shields.io/badge/licence-LGPL--3-blue.png',
               'http://www.gnu.org/licenses/lgpl-3.0-standalone.html', 'License: LGPL-3'),
    'GPL-3': ('https://img.shields.io/badge/licence-GPL--3-blue.png',
              'http://www.gnu.org/licenses/gpl-3.0-standalone.html', 'License: GPL-3'),
}
STATUS_BADGES = {
    'alpha': ('Alpha', 'red'),
    'beta': ('Beta', 'yellow'),
    'production/stable': ('Production%2FStable', 'green'),
    'mature': ('Mature', 'brightgreen'),
}
GITHUB_RE = re.compile(r'^https?://github\.com/([^/\s]+)/([^/\s#?]+?)(?:\.git)?/?$')
IMAGE_RE = re.compile(r'^(\s*\.\. (?:figure|image)::\s+)(\S.*?)\s*$')


class ReadmeError(Exception):
    pass


def read_manifest(addon_dir):
    path = os.path.join(addon_dir, '__manifest__.py')
    if not os.path.isfile(path):
        raise ReadmeError('no __manifest__.py in %s' % addon_dir)
    with io.open(path, encoding='utf-8') as source:
        manifest = ast.literal_eval(source.read())
    if not isinstance(manifest, dict) or not manifest.get('name'):
        raise ReadmeError('%s: not a manifest with a name' % path)
    return manifest


def project(manifest):
    """(organisation, repository, branch) from the manifest's GitHub website and version."""
    match = GITHUB_RE.match(manifest.get('website', '').strip())
    if not match:
        raise ReadmeError("the manifest's website is not a GitHub repository: %r" % manifest.get('website'))
    version = manifest.get('version', '')
    branch = re.match(r'^(\d+\.\d+)\.\d+\.\d+\.\d+$', version)
    if not branch:
        raise ReadmeError("the manifest's version is not SERIES.x.y.z: %r" % version)
    return match.group(1), match.group(2), branch.group(1)


def read_fragment(path, raw_url):
    """The fragment's text with Unix newlines, no trailing blank line, one final newline; '' when
    empty. Relative image paths point to the repository, as OCA's tool makes them."""
    with io.open(path, encoding='utf-8') as source:
        text = source.read().replace('\r\n', '\n').replace('\r', '\n')
    lines = [line.rstrip() for line in text.split('\n')]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    for index, line in enumerate(lines):
        image = IMAGE_RE.match(line)
        if image and not re.match(r'^[a-z][a-z0-9+.-]*:', image.group(2)):
            lines[index] = image.group(1) + raw_url + re.sub(r'^(\.\./)+', '', image.group(2))
    return '\n'.join(lines) + '\n' if lines else ''


def read_fragments(addon_dir, raw_url):
    fragments = {}
    for name in FRAGMENTS:
        path = os.path.join(addon_dir, FRAGMENTS_DIR, name + '.rst')
        if os.path.isfile(path):
            text = read_fragment(path, raw_url)
            if text:
                fragments[name] = text
    if 'DESCRIPTION' not in fragments:
        raise ReadmeError('no %s/DESCRIPTION.rst in %s' % (FRAGMENTS_DIR, addon_dir))
    return fragments


def shields_escape(text):
    return text.replace('-', '--').replace('_', '__').replace(' ', '_')


def banner(lines):
    width = max(len(line) for line in lines)
    rule = '!' * (width + 6)
    body = ['!! %s !!' % line.ljust(width) for line in lines]
    return '\n'.join(['.. ' + rule] + ['   ' + line for line in body + [rule]]) + '\n'


def heading(title, underline, overline=False):
    rule = underline * len(title)
    return '%s%s\n%s\n' % (rule + '\n' if overline else '', title, rule)


def render(addon_dir):
    """README.rst's text for the addon in ``addon_dir``."""
    addon_name = os.path.basename(os.path.abspath(addon_dir))
    manifest = read_manifest(addon_dir)
    org, repo, branch = project(manifest)
    repo_url = 'https://github.com/%s/%s' % (org, repo)
    addon_url = '%s/tree/%s/%s' % (repo_url, branch, addon_name)
    raw_url = 'https://raw.githubusercontent.com/%s/%s/%s/%s/' % (org, repo, branch, addon_name)
    fragments = read_fragments(addon_dir, raw_url)

    badges = []
    status = (manifest.get('development_status') or '').lower()
    if status in STATUS_BADGES:
        label, colour = STATUS_BADGES[status]
        badges.append(('https://img.shields.io/badge/maturity-%s-%s.png' % (label, colour),
                       'https://odoo-community.org/page/development-status', label.replace('%2F', '/')))
    if manifest.get('license') in LICENSE_BADGES:
        badges.append(LICENSE_BADGES[manifest['license']])
    badges.append(('https://img.shields.io/badge/github-%s-lightgray.png?logo=github'
                   % quote(shields_escape('%s/%s' % (org, repo)), safe=''), addon_url, '%s/%s' % (org, repo)))

    out = [heading(manifest['name'], '=', overline=True)]
    out.append(banner(['This file is generated by scripts/gen_readme.py',
                       'from readme/*.rst and __manifest__.py:',
                       'edit those, not this file; changes here are overwritten.']))
    out.append(''.join('.. |badge%d| image:: %s\n    :target: %s\n    :alt: %s\n' % (index, image, target, alt)
                       for index, (image, target, alt) in enumerate(badges, 1)))
    out.append(' '.join('|badge%d|' % index for index in range(1, len(badges) + 1)) + '\n')
    out.append(fragments['DESCRIPTION'])
    if status == 'alpha':
        out.append('.. IMPORTANT::\n'
                   '   This is an alpha version, the data model and design can change at any time without warning.\n'
                   '   Only for development or testing purpose, do not use in production.\n')
    out.append('**Table of contents**\n\n.. contents::\n   :local:\n')
    for name, title in SECTIONS:
        if name in fragments:
            out.append(heading(title, '=') + '\n' + fragments[name])

    feedback = '%s/issues/new?body=%s' % (repo_url, quote(
        'module: %s\nversion: %s\n\n**Steps to reproduce**\n- ...\n\n**Current behavior**\n\n**Expected behavior**'
        % (addon_name, branch), safe=''))
    out.append(heading('Bug Tracker', '=') + '\n'
               'Bugs are tracked on `GitHub Issues <%s/issues>`_.\n'
               'In case of trouble, please check there if your issue has already been reported.\n'
               'If you spotted it first, help us fix it with a detailed\n'
               '`report <%s>`_.\n\n'
               'Do not contact contributors directly about support or help with technical issues.\n'
               % (repo_url, feedback))

    out.append(heading('Credits', '='))
    authors = [author.strip() for author in manifest.get('author', '').split(',')
               if author.strip() and '(OCA)' not in author]
    if authors:
        out.append(heading('Authors', LEVEL3) + '\n' + ''.join('* %s\n' % author for author in authors))
    for name, title in CREDIT_SECTIONS:
        if name in fragments:
            out.append(heading(title, LEVEL3) + '\n' + fragments[name])
    maintainers = manifest.get('maintainers') or []
    part = [heading('Maintainers', LEVEL3)]
    if maintainers:
        part.append(''.join('.. |maintainer-%s| image:: https://github.com/%s.png?size=40px\n'
                            '    :target: https://github.com/%s\n    :alt: %s\n' % (login, login, login, login)
                            for login in maintainers))
        part.append('Current maintainer%s:\n' % ('s' if len(maintainers) > 1 else ''))
        part.append(' '.join('|maintainer-%s|' % login for login in maintainers) + '\n')
    part.append('This module is part of the `%s/%s <%s>`_ project on GitHub.\n' % (org, repo, addon_url))
    part.append('You are welcome to contribute.\n')
    out.append('\n'.join(part))
    return '\n'.join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate an addon's README.rst from its readme/ fragments.")
    parser.add_argument('addon_dir', nargs='?', default=DEFAULT_ADDON, help='the addon (default: %(default)s)')
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 when README.rst is not what the fragments give')
    args = parser.parse_args(argv)
    try:
        text = render(args.addon_dir)
    except (ReadmeError, OSError, ValueError, SyntaxError) as error:
        print('gen_readme: %s' % error, file=sys.stderr)
        return 2
    readme = os.path.join(args.addon_dir, 'README.rst')
    try:
        with io.open(readme, encoding='utf-8', newline='') as current_file:
            current = current_file.read()
    except FileNotFoundError:
        current = None
    if current == text:
        if args.check:
            print('%s is up to date' % os.path.relpath(readme))
        return 0
    if args.check:
        diff = list(difflib.unified_diff((current or '').splitlines(True), text.splitlines(True),
                                         os.path.relpath(readme), 'generated'))
        sys.stderr.write(''.join(diff[:60]) + ('...\n' if len(diff) > 60 else ''))
        print('%s is not up to date: run python3 scripts/gen_readme.py' % os.path.relpath(readme), file=sys.stderr)
        return 1
    with io.open(readme, 'w', encoding='utf-8', newline='\n') as out:
        out.write(text)
    print('wrote %s' % os.path.relpath(readme))
    return 0


if __name__ == '__main__':
    sys.exit(main())
