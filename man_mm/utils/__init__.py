from .benchmark import fake_cls_batch, format_table, measure_train_step
from .memory import ActivationMemoryMeter
from .total_memory import TotalMemoryMeter

__all__ = [
    'ActivationMemoryMeter', 'TotalMemoryMeter', 'fake_cls_batch',
    'format_table', 'measure_train_step'
]
