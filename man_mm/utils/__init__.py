"""The bottom layer: depends on torch and mmengine only, never on the rest
of man_mm."""
from .cuda_memory import CudaMemoryMeter, memory_meter_for
from .imports import optional_types
from .memory import ActivationMemoryMeter
from .paths import tools_dir
from .total_memory import TotalMemoryMeter
from .unregistered import Unregistered

__all__ = [
    'ActivationMemoryMeter', 'CudaMemoryMeter', 'TotalMemoryMeter',
    'Unregistered', 'memory_meter_for',
    'optional_types', 'tools_dir'
]
