from .local_distributed import GradientSync, LocalDistributedDataParallel
from .local_learning_model import LocalLearningModel, NonFiniteLocalLossError

__all__ = [
    'GradientSync', 'LocalDistributedDataParallel', 'LocalLearningModel',
    'NonFiniteLocalLossError'
]
