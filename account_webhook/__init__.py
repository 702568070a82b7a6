from . import models
from . import wizards
from . import cli
from .hooks import post_init_hook, uninstall_hook
