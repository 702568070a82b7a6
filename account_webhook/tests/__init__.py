# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import test_install
from . import test_webhook_callback
from . import test_capture
from . import test_capture_queries
from . import test_delivery
from . import test_sender
from . import test_housekeeping
from . import test_replay
from . import test_copy_database
from . import test_operations
from . import test_hostile_answers
from . import test_payload_secrets
from . import test_shaping
from . import test_hostile_input
