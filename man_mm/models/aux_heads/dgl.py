"""DGL auxiliary net (Belilovsky et al., 2020), a Table 1/3 baseline."""
from torch import nn

from man_mm.registry import MODELS
from ._cls_common import cross_entropy, in_channels_of, num_classes_of


@MODELS.register_module()
class DGLClsAux(nn.Module):
    """Decoupled Greedy Learning aux: 1x1 convs, pooling, an MLP.

    ``num_convs`` 1x1 conv-BN-ReLU layers, adaptive average pooling to
    ``pool_size`` x ``pool_size``, then a two-layer MLP classifier -- DGL's
    CNN auxiliary design, with its own cross-entropy loss.

    Args:
        task (TaskAdapter): Adapter of the base model.
        units (ResNetUnits): The split backbone.
        last_unit (Unit): Last unit of the module this aux trains.
        num_convs (int): Number of 1x1 conv layers. Defaults to 1.
        pool_size (int): Spatial size after pooling. Defaults to 2.
        mlp_channels (int): Hidden width of the MLP. Defaults to 256.
    """

    def __init__(self, task, units, last_unit, num_convs: int = 1,
                 pool_size: int = 2, mlp_channels: int = 256):
        super().__init__()
        c = in_channels_of(units, last_unit)
        layers = []
        for _ in range(num_convs):
            layers += [nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True)]
        self.convs = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.mlp = nn.Sequential(
            nn.Flatten(), nn.Linear(c * pool_size**2, mlp_channels),
            nn.ReLU(inplace=True),
            nn.Linear(mlp_channels, num_classes_of(task)))

    def forward(self, x, data_samples, bank):
        logits = self.mlp(self.pool(self.convs(x)))
        return dict(loss_dgl=cross_entropy(logits, data_samples))


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
        from ._pyramid import ResizePyramid
        from .slm import owned_or_shared_heads
        c = in_channels_of(units, last_unit)
        self._task = task
        self.conv = nn.Sequential(
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c),
            nn.ReLU(inplace=True))
        self.pyramid = ResizePyramid(
            c, last_unit.stage,
            {t: units.stage_out_channels(t) for t in task.neck_stages})
        self._heads = owned_or_shared_heads(task, False, self)

    def forward(self, x, data_samples, bank):
        return self._task.loss(self.pyramid(self.conv(x)), data_samples,
                               self._heads)
