from .feature_bank import FeatureBank
from .local_module import LocalModule
from .partition import partition_units
from .tasks import ClsTaskAdapter, TaskAdapter, build_task_adapter
from .units import ResNetUnits, Unit, fresh_copy

__all__ = [
    'FeatureBank', 'LocalModule', 'partition_units', 'TaskAdapter',
    'ClsTaskAdapter', 'build_task_adapter', 'ResNetUnits', 'Unit',
    'fresh_copy'
]
