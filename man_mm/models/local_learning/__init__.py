"""Local learning itself: the model that owns the local step, its parts
and its data-parallel wrapper."""
from .adversarial_step import adversarial_train_step
from .grad_sync import GradientSync, GradSync, StageGradSync
from .local_ddp import LocalDistributedDataParallel
from .local_learning_model import LocalLearningModel, NonFiniteLocalLossError
from .local_module import LocalModule
from .local_pipeline import LocalPipelineParallel
from .local_step import LocalStep, StageSlice, local_steps
from .partition import partition_units
from .stage_link import StageLink
from .stage_plan import StagePlan, plan_stages, profile_modules

__all__ = [
    'LocalLearningModel', 'NonFiniteLocalLossError', 'LocalModule',
    'LocalStep', 'StageSlice', 'local_steps', 'partition_units', 'GradSync',
    'GradientSync', 'LocalDistributedDataParallel', 'LocalPipelineParallel',
    'StageGradSync', 'StageLink', 'StagePlan', 'plan_stages',
    'profile_modules', 'adversarial_train_step'
]
