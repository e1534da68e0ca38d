"""Peak memory of a training iteration from the CUDA caching allocator.

On a GPU the allocator's own counters are the figures users check, and
reading them costs nothing, unlike :class:`TotalMemoryMeter`'s Python
dispatch hook on every op. :class:`CudaMemoryMeter` has the same interface
(``static_bytes``, ``current_bytes``, ``peak_dynamic_bytes``,
``reset_peak()``, ``peak_bytes``), so the loops and the planner use
whichever fits the device.
"""
import torch
from torch import nn

from .total_memory import PeakMemory, TotalMemoryMeter


class CudaMemoryMeter(PeakMemory):
    """``torch.cuda`` allocator figures of the code run inside.

    *Static* bytes are those allocated when the meter starts (weights,
    buffers, optimizer state, gradients); *dynamic* bytes are allocated
    beyond them. ``peak_bytes`` is ``torch.cuda.max_memory_allocated()``
    over the block; ``reserved_peak_bytes`` is the allocator's reserved
    peak (``max_memory_reserved``), what ``nvidia-smi`` roughly shows.

    The caching allocator counts on the host, when an op is launched, so
    no synchronisation is needed: reading it keeps the training loop's
    kernels queued.

    Args:
        device (torch.device | int, optional): Defaults to the current one.
    """

    def __init__(self, device=None):
        self.device = device
        self.static_bytes = 0
        self.reserved_peak_bytes = 0
        self._max_seen = 0

    @classmethod
    def for_training(cls, model: nn.Module,
                     optimizer=None) -> 'CudaMemoryMeter':
        """The meter of ``model``'s device (the optimizer's state is
        already allocated there, so it counts as static)."""
        param = next(model.parameters(), None)
        return cls(param.device if param is not None else None)

    def __enter__(self) -> 'CudaMemoryMeter':
        self.static_bytes = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        self._max_seen = 0
        return self

    def __exit__(self, *exc) -> None:
        self._max_seen = max(self._max_seen,
                             torch.cuda.max_memory_allocated(self.device))
        self.reserved_peak_bytes = torch.cuda.max_memory_reserved(
            self.device)

    @property
    def current_bytes(self) -> int:
        """Dynamic bytes allocated now."""
        return torch.cuda.memory_allocated(self.device) - self.static_bytes

    @property
    def peak_dynamic_bytes(self) -> int:
        peak = max(self._max_seen,
                   torch.cuda.max_memory_allocated(self.device))
        return peak - self.static_bytes

    def reset_peak(self) -> None:
        """Start a new peak window from the bytes allocated now, as
        :meth:`TotalMemoryMeter.reset_peak` does."""
        torch.cuda.reset_peak_memory_stats(self.device)
        self._max_seen = 0

    @property
    def reserved_peak_mib(self) -> float:
        return self.reserved_peak_bytes / 2**20


def memory_meter_for(model: nn.Module, optimizer=None):
    """The allocator's meter for a model on CUDA, else the dispatch-mode
    :class:`TotalMemoryMeter` (CPU: no allocator statistics)."""
    param = next(model.parameters(), None)
    if param is not None and param.is_cuda:
        return CudaMemoryMeter.for_training(model, optimizer)
    return TotalMemoryMeter.for_training(model, optimizer)
