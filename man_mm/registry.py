"""man_mm registries.

Child registries of mmengine's roots, with ``locations`` so that a config
saying ``type='man_mm.LocalLearningModel'`` imports the module that registers
it (the same mechanism mmdet, mmpretrain and mmyolo use).
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, locations=['man_mm.models'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['man_mm.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['man_mm.engine'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, locations=['man_mm.datasets'])
