from .backbone_units import BackboneUnits
from .convnext_units import ConvNeXtUnits
from .darknet_units import DarknetUnits
from .edit_task import EditTaskAdapter
from .edsr_units import EDSRStem, EDSRUnits
from .feature_bank import FeatureBank
from .local_module import LocalModule
from .partition import partition_units
from .splitters import build_units
from .tasks import (ClsTaskAdapter, DetTaskAdapter, TaskAdapter,
                    build_task_adapter)
from .two_stage_task import TwoStageTaskAdapter
from .swin_units import SwinUnits
from .units import ResNetUnits, Unit, fresh_copy

__all__ = [
    'FeatureBank', 'LocalModule', 'partition_units', 'TaskAdapter',
    'ClsTaskAdapter', 'DetTaskAdapter', 'EditTaskAdapter',
    'build_task_adapter', 'build_units', 'BackboneUnits', 'ResNetUnits',
    'EDSRUnits',
    'DarknetUnits', 'ConvNeXtUnits', 'SwinUnits', 'TwoStageTaskAdapter',
    'EDSRStem', 'Unit', 'fresh_copy'
]
