"""True peak memory of a training iteration, as a GPU allocator counts it.

:class:`ActivationMemoryMeter` counts only tensors saved for backward. A GPU
holds more: the weights, the optimizer state, the gradients, temporaries of
every op and, with activation checkpointing, the tensors recomputed during
backward. :class:`TotalMemoryMeter` counts all of them on any device:

* *static* bytes -- parameters, buffers, optimizer state and gradients that
  exist when the meter starts -- are summed once;
* *dynamic* bytes -- every storage an ATen op creates while the meter is on,
  forward, backward, recomputation and optimizer step alike -- are counted
  from their creation until they are freed (a weak reference to the storage),
  through a :class:`~torch.utils._python_dispatch.TorchDispatchMode`.

``peak_bytes = static_bytes + peak of dynamic bytes`` is what
``torch.cuda.max_memory_allocated()`` would report for the iteration on a
GPU, less allocator rounding and kernel-internal workspaces (cuDNN/oneDNN
scratch memory is not a tensor). It is deterministic and device independent.
"""
import weakref
from typing import Dict, Iterable, Set

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


def _storage_key(tensor: torch.Tensor):
    storage = tensor.untyped_storage()
    return (storage.device.type, storage.data_ptr()), storage


def _optimizers(optimizer) -> list:
    """Torch optimizers behind an optimizer, ``OptimWrapper`` or
    ``OptimWrapperDict``."""
    if optimizer is None:
        return []
    if hasattr(optimizer, 'optim_wrappers'):  # OptimWrapperDict
        return [w.optimizer for w in optimizer.optim_wrappers.values()]
    return [getattr(optimizer, 'optimizer', optimizer)]


def training_state_tensors(model: nn.Module, optimizer=None
                           ) -> Iterable[torch.Tensor]:
    """Parameters, buffers, existing gradients and optimizer state."""
    for p in model.parameters():
        yield p
        if p.grad is not None:
            yield p.grad
    yield from model.buffers()
    for opt in _optimizers(optimizer):
        for state in opt.state.values():
            for value in tree_leaves(state):
                if isinstance(value, torch.Tensor):
                    yield value


class PeakMemory:
    """What every true-peak meter reports, from its ``static_bytes`` and
    ``peak_dynamic_bytes``."""
    static_bytes: int
    peak_dynamic_bytes: int

    @property
    def peak_bytes(self) -> int:
        """Static bytes plus the peak of dynamic bytes: the true total."""
        return self.static_bytes + self.peak_dynamic_bytes

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20

    @property
    def static_mib(self) -> float:
        return self.static_bytes / 2**20


class TotalMemoryMeter(PeakMemory, TorchDispatchMode):
    """Peak of all live tensor memory (weights, optimizer state, gradients,
    activations, temporaries, recomputed tensors) while active.

    Example:
        >>> with TotalMemoryMeter.for_training(model, optimizer) as meter:
        ...     model.train_step(batch, optim_wrapper)
        >>> meter.peak_mib, meter.static_mib

    Args:
        static (Iterable[Tensor]): Tensors alive before the measured code and
            kept after it (weights, optimizer state). Counted once, by
            storage, in :attr:`static_bytes`.
    """

    def __init__(self, static: Iterable[torch.Tensor] = ()):
        super().__init__()
        self._static: Set = set()
        self.static_bytes = 0
        for t in static:
            key, storage = _storage_key(t)
            if key not in self._static and storage.nbytes():
                self._static.add(key)
                self.static_bytes += storage.nbytes()
        self._live: Dict = {}
        self.current_bytes = 0  # dynamic bytes alive now
        self.peak_dynamic_bytes = 0

    @classmethod
    def for_training(cls, model: nn.Module,
                     optimizer=None) -> 'TotalMemoryMeter':
        """A meter whose static part is ``model``'s and ``optimizer``'s
        state (a torch optimizer, ``OptimWrapper`` or
        ``OptimWrapperDict``)."""
        return cls(training_state_tensors(model, optimizer))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out

    def _track(self, tensor: torch.Tensor) -> None:
        key, storage = _storage_key(tensor)
        nbytes = storage.nbytes()
        if not nbytes or key in self._static or key in self._live:
            return
        self._live[key] = nbytes
        self.current_bytes += nbytes
        if self.current_bytes > self.peak_dynamic_bytes:
            self.peak_dynamic_bytes = self.current_bytes
        weakref.finalize(storage, self._release, key)

    def _release(self, key) -> None:
        self.current_bytes -= self._live.pop(key, 0)

    def reset_peak(self) -> None:
        """Start a new dynamic peak from the bytes alive now."""
        self.peak_dynamic_bytes = self.current_bytes
