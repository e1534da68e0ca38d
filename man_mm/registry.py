"""man_mm registries.

Child registries of mmengine's roots, with ``locations`` so that a config
saying ``type='man_mm.LocalLearningModel'`` imports the module that registers
it (the same mechanism mmdet, mmpretrain and mmyolo use).

Two registries of man_mm's own are looked up by the class of a *built*
module rather than built from a config: :data:`UNIT_SPLITTERS` (how to cut a
backbone or generator into units) and :data:`TASK_ADAPTERS` (what a local
module needs to know about a base model). A new backbone family or task is
one new file registering one class (see ``man_mm/models/splitters/base.py``
and ``man_mm/models/task_adapters/base.py``).
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
    'unit splitter', scope='man_mm', locations=['man_mm.models.splitters'])
TASK_ADAPTERS = Registry(
    'task adapter', scope='man_mm',
    locations=['man_mm.models.task_adapters'])


# ----------------------------------------------------------------------
# Look-up by the class of a built module (UNIT_SPLITTERS, TASK_ADAPTERS)
# ----------------------------------------------------------------------
HOW_TO_ADD = (
    'To add one (in man_mm or in your own project), write a class with '
    'supported_types() in a new file, decorate it with '
    '@man_mm.registry.{registry}.register_module() and import that file '
    '(custom_imports in your config); see docs/en/own_model.md.')


def supported_types(cls) -> tuple:
    """The classes ``cls`` accepts; empty if their library is missing."""
    try:
        return tuple(cls.supported_types())
    except ImportError:  # e.g. mmdet or mmagic not installed
        return ()


def registered_names(registry) -> str:
    """``'Name (what it accepts); ...'`` for error messages."""
    return '; '.join(
        f"{name} ({getattr(cls, 'supported_names', '?')})"
        for name, cls in registry.module_dict.items())


def find_registered(registry, module):
    """The first class in ``registry`` that accepts ``module``, or None."""
    for cls in registry.module_dict.values():
        types = supported_types(cls)
        if types and isinstance(module, types):
            return cls
    return None


def unsupported_message(module, role: str = 'backbone') -> str:
    """Why ``module`` cannot be split, what can, and how to add it."""
    return (f'man_mm cannot split {role} {type(module).__name__} into local '
            f'modules. Supported ({len(UNIT_SPLITTERS.module_dict)} '
            f'registered unit splitters): {registered_names(UNIT_SPLITTERS)}.'
            f' Change the model config to one of these, or register a unit '
            f'splitter. ' + HOW_TO_ADD.format(registry='UNIT_SPLITTERS'))
