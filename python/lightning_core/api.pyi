# Type stubs: the clean keyword API is the native module's functions.
from ._core import *  # noqa: F401,F403
