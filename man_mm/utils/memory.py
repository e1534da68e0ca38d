"""Device-independent peak activation memory meter (DESIGN §4).

Every tensor that autograd saves for backward passes through
:func:`torch.autograd.graph.saved_tensors_hooks`. Counting each saved storage
once while its graph is alive, and releasing it when the graph is freed, gives
the activation memory that local learning reduces -- on CPU as on GPU, and
without the allocator's caching noise.
"""
import threading
import weakref
from typing import Dict, Iterable, Optional

import torch
from torch import nn

_ACTIVE = threading.local()


class _Packed:
    """What autograd keeps instead of the tensor; its death frees the bytes."""

    __slots__ = ('tensor', '__weakref__')

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor


class ActivationMemoryMeter:
    """Measure the peak bytes of tensors saved for backward.

    Storages are counted once however many tensors view them; parameters are
    excluded (they are model memory, not activations). Extra live tensors that
    are not saved by autograd, such as the feature bank, can be registered
    with :meth:`track` so they count while they are alive.

    Example:
        >>> with ActivationMemoryMeter(model.parameters()) as meter:
        ...     loss = model(x).sum()
        ...     loss.backward()
        >>> meter.peak_mib

    Args:
        exclude (Iterable[Tensor], optional): Tensors (typically parameters)
            whose storages are not activations. Defaults to None.
    """

    def __init__(self, exclude: Optional[Iterable[torch.Tensor]] = None):
        self._excluded = {
            t.untyped_storage().data_ptr()
            for t in (exclude or []) if t is not None
        }
        self._refs: Dict[int, int] = {}
        self._sizes: Dict[int, int] = {}
        self.current_bytes = 0
        self.peak_bytes = 0
        self._lock = threading.Lock()
        self._hooks = torch.autograd.graph.saved_tensors_hooks(
            self._pack, self._unpack)

    @classmethod
    def for_model(cls, model: nn.Module) -> 'ActivationMemoryMeter':
        """A meter that excludes ``model``'s parameters and buffers."""
        return cls(list(model.parameters()) + list(model.buffers()))

    @staticmethod
    def active() -> Optional['ActivationMemoryMeter']:
        """The meter currently measuring in this thread, if any."""
        return getattr(_ACTIVE, 'meter', None)

    # -- accounting -------------------------------------------------------
    def _acquire(self, key: int, nbytes: int) -> None:
        with self._lock:
            count = self._refs.get(key, 0)
            if count == 0:
                self._sizes[key] = nbytes
                self.current_bytes += nbytes
                self.peak_bytes = max(self.peak_bytes, self.current_bytes)
            self._refs[key] = count + 1

    def _release(self, key: int) -> None:
        with self._lock:
            count = self._refs.get(key, 0) - 1
            if count > 0:
                self._refs[key] = count
                return
            self._refs.pop(key, None)
            self.current_bytes -= self._sizes.pop(key, 0)

    def track(self, tensor: torch.Tensor, owner: object = None) -> None:
        """Count ``tensor`` as live until ``owner`` (default: it) is freed."""
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in self._excluded or storage.nbytes() == 0:
            return
        self._acquire(key, storage.nbytes())
        weakref.finalize(owner if owner is not None else tensor,
                         self._release, key)

    def _pack(self, tensor: torch.Tensor):
        if isinstance(tensor, nn.Parameter):
            return tensor
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in self._excluded or storage.nbytes() == 0:
            return tensor
        packed = _Packed(tensor)
        self._acquire(key, storage.nbytes())
        weakref.finalize(packed, self._release, key)
        return packed

    @staticmethod
    def _unpack(packed):
        return packed.tensor if isinstance(packed, _Packed) else packed

    # -- context manager ----------------------------------------------------
    def __enter__(self) -> 'ActivationMemoryMeter':
        self._previous = self.active()
        _ACTIVE.meter = self
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)
        _ACTIVE.meter = self._previous

    def reset_peak(self) -> None:
        """Start a new peak from the bytes alive now."""
        self.peak_bytes = self.current_bytes

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20
