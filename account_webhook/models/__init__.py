from . import webhook_mixin
from . import webhook_callback
from . import webhook_delivery
from . import webhook_delivery_attempt
from . import account_invoice
from . import account_invoice_line
from . import res_partner
from . import ir_model_fields
