# Copyright 2026 account_webhook developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import webhook_mixin
from . import webhook_record
from . import webhook_callback
from . import webhook_callback_key
from . import webhook_callback_health
from . import webhook_callback_backfill
from . import webhook_callback_request
from . import webhook_receiver_ref
from . import webhook_delivery
from . import webhook_housekeeping
from . import webhook_delivery_attempt
from . import webhook_endpoint
from . import webhook_replay
from . import webhook_copy
from . import ir_config_parameter
from . import account_invoice
from . import account_invoice_line
from . import res_partner
from . import ir_model_fields
