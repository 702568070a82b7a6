# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Context flags that only server-side code can raise.

A client chooses its own context (XML-RPC, JSON-RPC), so a flag that changes what the addon does
(capture off, a delivery written by hand) counts only when its value is the flag object itself: a
Python object, which no RPC request can carry. What a client sends under the same key is ignored.
"""


class ServerFlag(object):

    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return '<server-side flag %s>' % self.key

    def on(self, records):
        """``records`` in a context with this flag raised."""
        return records.with_context(**{self.key: self})

    def raised(self, env):
        return env.context.get(self.key) is self
