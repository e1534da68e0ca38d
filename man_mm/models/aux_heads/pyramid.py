"""Multi-scale inputs for a detection head from one feature map."""
import torch.nn.functional as F
from torch import nn


class ResizePyramid(nn.Module):
    """Fake a backbone's stage outputs from a single module output.

    For every requested stage ``t`` the feature is resized by ``2**(t-s)``
    (nearest upsampling for shallower stages, max-pooling for deeper ones;
    mmdet pads inputs to a multiple of 32, so sizes match the real stages)
    and projected to that stage's width by a 1x1 conv. No feature bank and
    no SLM blocks: what a detector's aux net sees without MAN.

    Args:
        in_channels (int): Channels of the module output.
        stage (int): Stage index ``s`` of the module output.
        stage_channels (dict[int, int]): Width of every stage to produce.
    """

    def __init__(self, in_channels: int, stage: int, stage_channels: dict):
        super().__init__()
        self.stage = stage
        self.proj = nn.ModuleDict({
            str(t): nn.Conv2d(in_channels, c, 1)
            for t, c in stage_channels.items()
        })

    def forward(self, x):
        feats = {}
        for key, proj in self.proj.items():
            t = int(key)
            if t < self.stage:
                y = F.interpolate(x, scale_factor=2**(self.stage - t),
                                  mode='nearest')
            elif t > self.stage:
                k = 2**(t - self.stage)
                y = F.max_pool2d(x, kernel_size=k, stride=k, ceil_mode=True)
            else:
                y = x
            feats[t] = proj(y)
        return feats
