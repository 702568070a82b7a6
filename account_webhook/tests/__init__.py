from . import test_install
from . import test_webhook_callback
from . import test_capture
from . import test_delivery
from . import test_sender
from . import test_housekeeping
from . import test_copy_database
from . import test_replay
