"""The bottom layer: depends on torch and mmengine only, never on the rest
of man_mm."""
from .imports import optional_types
from .memory import ActivationMemoryMeter
from .paths import tools_dir
from .total_memory import TotalMemoryMeter
from .unregistered import Unregistered

__all__ = [
    'ActivationMemoryMeter', 'TotalMemoryMeter', 'Unregistered',
    'optional_types', 'tools_dir'
]
