from . import models
from . import cli
