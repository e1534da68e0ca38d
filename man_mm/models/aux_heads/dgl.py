"""DGL auxiliary net (Belilovsky et al., 2020), a Table 1/3 baseline."""
import math

import torch.nn.functional as F
from torch import nn

from man_mm.registry import MODELS
from .common import (cross_entropy, he_init_convs, in_channels_of,
                          num_classes_of)


@MODELS.register_module()
class DGLClsAux(nn.Module):
    """Decoupled Greedy Learning aux (``mlp-sr``): 1x1 convs, pooling, MLP.

    As AugLocal re-implements it for the ResNet-32 K=16 setting of the MAN
    paper's Table 1 (AugLocal ``networks/auxiliary_nets.py`` l. 99-177,
    after DGL's ``auxiliary_nets_study/models.py``)::

        AdaptiveAvgPool(ceil(H / 4))
        num_convs x [Conv1x1(C, C, no bias) - BN - ReLU]
        AdaptiveAvgPool(2) - Flatten                       # F = 4 C
        num_hidden x [Linear(F, F, no bias) - BN1d - ReLU]
        Linear(F, classes)

    with its own cross-entropy loss. DGL's original has three hidden layers
    with biases (``num_hidden=3, hidden_bias=True``); AugLocal's two
    without are the default.

    Args:
        task (TaskAdapter): Adapter of the base model.
        units (ResNetUnits): The split backbone.
        last_unit (Unit): Last unit of the module this aux trains.
        num_convs (int): Number of 1x1 conv layers. Defaults to 3.
        pool_size (int): Spatial size before the MLP. Defaults to 2.
        num_hidden (int): Hidden Linear-BN1d-ReLU layers. Defaults to 2.
        hidden_bias (bool): Biases in the hidden layers. Defaults to False.
    """

    def __init__(self, task, units, last_unit, num_convs: int = 3,
                 pool_size: int = 2, num_hidden: int = 2,
                 hidden_bias: bool = False):
        super().__init__()
        c = in_channels_of(units, last_unit)
        layers = []
        for _ in range(num_convs):
            layers += [nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True)]
        self.convs = nn.Sequential(*layers)
        self.pool_size = pool_size
        f = c * pool_size**2
        mlp = [nn.Flatten()]
        for _ in range(num_hidden):
            mlp += [nn.Linear(f, f, bias=hidden_bias), nn.BatchNorm1d(f),
                    nn.ReLU(inplace=True)]
        self.mlp = nn.Sequential(*mlp, nn.Linear(f, num_classes_of(task)))
        he_init_convs(self)

    def forward(self, x, data_samples, bank):
        # DGL pools to a quarter of the map's side first (at least 1).
        x = F.adaptive_avg_pool2d(x, max(1, math.ceil(x.shape[-1] / 4)))
        x = F.adaptive_avg_pool2d(self.convs(x), self.pool_size)
        return dict(loss_dgl=cross_entropy(self.mlp(x), data_samples))


@MODELS.register_module()
class DGLDetAux(nn.Module):
    """DGL adapted to detection (paper Table 3): no bank, no SLM.

    A 1x1 conv-BN-ReLU on the module output, then an FPN input set built by
    resizing that one map to every level (:class:`ResizePyramid`), then the
    aux net's *own* fresh neck and head (DGL aux nets own their weights).

    Args:
        task (DetTaskAdapter): Adapter of the detector.
        units (ResNetUnits): The split backbone.
        last_unit (Unit): Last unit of the module this aux trains.
    """

    def __init__(self, task, units, last_unit):
        super().__init__()
        from .pyramid import ResizePyramid
        from .slm import owned_or_shared_heads
        c = in_channels_of(units, last_unit)
        self._task = task
        self.conv = nn.Sequential(
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c),
            nn.ReLU(inplace=True))
        self.pyramid = ResizePyramid(
            c, last_unit.stage,
            {t: units.stage_out_channels(t) for t in task.neck_stages})
        self.heads = owned_or_shared_heads(task, False, self)

    def forward(self, x, data_samples, bank):
        return self._task.loss(self.pyramid(self.conv(x)), data_samples,
                               self.heads)
