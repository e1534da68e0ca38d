"""man_mm: supervised local learning (MAN) for OpenMMLab 2.x."""
from .utils.mmengine_compat import (allow_mmengine_checkpoints,
                                    register_config_prefix)
from .version import __version__

# What a user's own Runner needs from man_mm as soon as a config imports it:
# resume files that torch >= 2.6 loads, and ``_base_ = 'man_mm::...'``.
allow_mmengine_checkpoints()
register_config_prefix()

__all__ = ['__version__']
