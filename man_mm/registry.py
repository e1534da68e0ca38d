"""man_mm registries.

Child registries of mmengine's roots, with ``locations`` so that a config
saying ``type='man_mm.LocalLearningModel'`` imports the module that registers
it (the same mechanism mmdet, mmpretrain and mmyolo use).

Two registries of man_mm's own are looked up by the class of a *built*
module rather than built from a config: :data:`UNIT_SPLITTERS` (how to cut a
backbone or generator into units) and :data:`TASK_ADAPTERS` (what a local
module needs to know about a base model). A new backbone family or task is
one new file registering one class (see ``man_mm/models/local/splitters.py``).
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, locations=['man_mm.models'])
# ``model_wrapper_cfg=dict(type='man_mm.LocalDistributedDataParallel')``:
# mmengine's Runner.wrap_model looks it up from its root MODEL_WRAPPERS,
# which finds this child by scope; is_model_wrapper searches children too.
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMENGINE_MODEL_WRAPPERS,
    locations=['man_mm.models'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['man_mm.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['man_mm.engine'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, locations=['man_mm.datasets'])
UNIT_SPLITTERS = Registry(
    'unit splitter', scope='man_mm', locations=['man_mm.models.local'])
TASK_ADAPTERS = Registry(
    'task adapter', scope='man_mm', locations=['man_mm.models.local'])
