from . import models
from . import cli
from .hooks import uninstall_hook
