from .benchmark import fake_cls_batch, format_table, measure_train_step
from .memory import ActivationMemoryMeter

__all__ = [
    'ActivationMemoryMeter', 'fake_cls_batch', 'format_table',
    'measure_train_step'
]
