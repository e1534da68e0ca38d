from .aux_heads import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .local import *  # noqa: F401,F403
from .wrappers import *  # noqa: F401,F403
