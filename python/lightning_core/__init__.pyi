# Type stubs for the package: the flat API is the native module's.
from ._core import *  # noqa: F401,F403
from ._core import __version__ as __version__
from ._policy import policy as policy
from . import api as api
