"""Measuring and planning local-learning settings: the benchmark helpers
and the planner (used by ``tools/analysis_tools``)."""
from .benchmark import (accepts_with_cp, base_model_cfg, build_optim_wrapper,
                        format_table, make_batches, measure_train_step,
                        module_breakdown, task_of, with_cp)
from .planner import plan, predict, profile_units

__all__ = [
    'accepts_with_cp', 'base_model_cfg', 'build_optim_wrapper',
    'format_table', 'make_batches', 'measure_train_step',
    'module_breakdown', 'task_of', 'with_cp',
    'plan', 'predict', 'profile_units'
]
