"""The MAN feature bank: detached key features, refreshed every iteration."""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Set

import torch
from torch import nn

from man_mm.utils import ActivationMemoryMeter


class FeatureBank:
    """Stores detached outputs of chosen modules during a training forward.

    Forward hooks put each tap's output, detached, under the tap's key while
    :attr:`recording` is on (only inside a local training step, so validation
    and inference never fill it). Auxiliary networks read it to see features
    that other local modules produced earlier in the same iteration (paper
    §3, "Feature Bank"). Entries never carry gradient back into the module
    that made them, so gradient isolation holds.
    """

    def __init__(self):
        self._features: Dict[str, torch.Tensor] = {}
        # The same outputs with their graphs, for the module that made them
        # (see live()); they share storage with the detached entries.
        self._live: Dict[str, torch.Tensor] = {}
        self._taps: Dict[str, nn.Module] = {}
        self._handles: List = []
        self.recording = False
        #: Index of the local module running now (set by the local step);
        #: :attr:`readers` records which modules read each entry, so a
        #: pipeline forwards an entry only to stages that still need it.
        self.reader: Optional[int] = None
        self.readers: Dict[str, Set[int]] = {}
        #: Per-iteration values that are no tap output: what the task
        #: adapter computes once for every module's head
        #: (``TaskAdapter.prepare``, e.g. encoded text prompts). Cleared
        #: with the bank; never sent to another pipeline stage (each
        #: process prepares its own).
        self.context: Dict[str, object] = {}

    # -- taps ---------------------------------------------------------------
    def add_tap(self, key: str, module: nn.Module) -> None:
        """Record ``module``'s output under ``key`` once attached."""
        if key in self._taps:
            raise KeyError(f'feature bank already has a tap named {key!r}')
        self._taps[key] = module

    @property
    def taps(self) -> List[str]:
        return list(self._taps)

    def attach(self) -> None:
        """Register the forward hooks (idempotent)."""
        if self._handles:
            return
        for key, module in self._taps.items():
            self._handles.append(
                module.register_forward_hook(self._make_hook(key)))

    def detach_hooks(self) -> None:
        """Remove the forward hooks and drop the stored features."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.clear()

    def _make_hook(self, key: str):

        def hook(module, inputs, output):
            if self.recording:
                self.put(key, output)
                if isinstance(output, torch.Tensor) and output.requires_grad:
                    self._live[key] = output

        return hook

    @contextmanager
    def recording_for(self, inputs: Optional[torch.Tensor] = None
                      ) -> Iterator['FeatureBank']:
        """A fresh bank that records while inside (one iteration).

        Args:
            inputs (Tensor, optional): Stored as ``'inputs'`` for aux nets
                that read the batch (InfoPro reconstructs it).
        """
        self.attach()
        self.clear()
        self.recording = True
        if inputs is not None:
            self.put('inputs', inputs)
        try:
            yield self
        finally:
            self.recording = False
            self.reader = None

    # -- storage --------------------------------------------------------------
    def put(self, key: str, feature: torch.Tensor) -> None:
        feature = feature.detach()
        self._features[key] = feature
        meter = ActivationMemoryMeter.active()
        if meter is not None:  # the bank is live memory too: count it
            meter.track(feature)

    def clear(self) -> None:
        self._features.clear()
        self._live.clear()
        self.context.clear()

    def _note_read(self, key: str) -> None:
        if self.reader is not None and key in self._features:
            self.readers.setdefault(key, set()).add(self.reader)

    def live(self, key: str):
        """The last tap output under ``key`` *with* its autograd graph, or
        None. Only the local module that computed it may use it (its graph
        is freed by that module's backward); the caller checks that
        (:meth:`DetTaskAdapter.neck_inputs`)."""
        self._note_read(key)
        return self._live.get(key)

    def __getitem__(self, key: str) -> torch.Tensor:
        self._note_read(key)
        try:
            return self._features[key]
        except KeyError:
            raise KeyError(
                f'feature bank has no entry {key!r} (has '
                f'{sorted(self._features)}); an auxiliary net read a feature '
                'that no earlier local module produced this iteration.'
            ) from None

    def get(self, key: str, default=None):
        self._note_read(key)
        return self._features.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self._features

    def __iter__(self) -> Iterator[str]:
        return iter(self._features)

    def __len__(self) -> int:
        return len(self._features)

    @property
    def nbytes(self) -> int:
        return sum(f.numel() * f.element_size()
                   for f in self._features.values())
