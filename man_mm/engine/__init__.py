from .hooks import *  # noqa: F401,F403
from .loops import *  # noqa: F401,F403
from .dist_setup import (cpu_distributed, init_cpu_distributed, slurm_env,
                         use_local_ddp)

__all__ = [
    'cpu_distributed', 'init_cpu_distributed', 'slurm_env', 'use_local_ddp'
]
