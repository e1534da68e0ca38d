"""Local learning itself: the model that owns the local step, its parts
and its data-parallel wrapper."""
from .grad_sync import GradientSync, GradSync
from .local_ddp import LocalDistributedDataParallel
from .local_learning_model import LocalLearningModel, NonFiniteLocalLossError
from .local_module import LocalModule
from .local_step import LocalStep, local_steps
from .partition import partition_units

__all__ = [
    'LocalLearningModel', 'NonFiniteLocalLossError', 'LocalModule',
    'LocalStep', 'local_steps', 'partition_units', 'GradSync',
    'GradientSync', 'LocalDistributedDataParallel'
]
