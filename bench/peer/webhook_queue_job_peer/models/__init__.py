from . import webhook_peer_receiver
from . import res_partner
