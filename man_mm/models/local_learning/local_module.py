"""One gradient-isolated local module: backbone units + their auxiliary net."""
from typing import Dict, List, Tuple

import torch
from torch import nn

from ..layers import CheckpointedSequential
from ..splitters import Unit


class LocalModule(nn.Module):
    """Units of the backbone trained by one auxiliary network.

    Its forward is a complete local step up to the loss: the module's
    units, then its aux net (the last module's is the real task head).

    Args:
        units (list[Unit]): Consecutive backbone units (shared modules).
        aux (nn.Module): Maps ``(features, data_samples, bank)`` to a dict
            of losses. The last module's aux is the real task head.
        index (int): Position among the local modules (for messages).

    Attributes:
        with_cp (bool): Checkpoint each unit (see
            :mod:`man_mm.models.layers.checkpoint`); set by
            :class:`LocalLearningModel`.
    """

    def __init__(self, units: List[Unit], aux: nn.Module, index: int):
        super().__init__()
        self.unit_names = [u.name for u in units]
        self.body = CheckpointedSequential(*[u.module for u in units])
        self.aux = aux
        self.index = index

    @property
    def with_cp(self) -> bool:
        return self.body.with_cp

    @with_cp.setter
    def with_cp(self, value: bool) -> None:
        self.body.with_cp = value

    def forward(self, x: torch.Tensor, data_samples,
                bank) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        h = self.body(x)
        return h, self.aux(h, data_samples, bank)

    def extra_repr(self) -> str:
        return (f'index={self.index}, units=[{self.unit_names[0]} .. '
                f'{self.unit_names[-1]}]')
