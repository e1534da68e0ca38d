"""Models: the split of a base model into local modules and their training.

Layers, bottom to top (a folder imports only those before it here):
``layers``, ``losses``, ``task_modules``, ``backbones`` ->
``splitters`` ->
``task_adapters`` -> ``aux_heads`` -> ``local_learning``.
"""
from .aux_heads import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .local_learning import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .splitters import *  # noqa: F401,F403
from .task_adapters import *  # noqa: F401,F403
from .task_modules import *  # noqa: F401,F403
