"""CIFAR ResNets of depth 6n+2 (ResNet-20/32/44/56/110, He et al. 2016)."""
from mmpretrain.models.backbones import ResNet_CIFAR
from mmpretrain.models.backbones.resnet import BasicBlock

from man_mm.registry import MODELS


@MODELS.register_module()
class CifarResNet(ResNet_CIFAR):
    """Three stages of n BasicBlocks with 16/32/64 channels.

    mmpretrain's ``ResNet_CIFAR`` is the ImageNet ResNet with a CIFAR stem
    (64..512 channels, depths 18..152). The local-learning literature
    (DGL, InfoPro, AugLocal, MAN Table 1) uses the original CIFAR family,
    registered here as a subclass so everything else -- stem, blocks,
    ``frozen_stages``, ``with_cp`` -- is mmpretrain's.

    Args:
        depth (int): 20, 32, 44, 56 or 110.
        **kwargs: Other :class:`mmpretrain.models.ResNet` arguments.
    """
    arch_settings = {
        20: (BasicBlock, (3, 3, 3)),
        32: (BasicBlock, (5, 5, 5)),
        44: (BasicBlock, (7, 7, 7)),
        56: (BasicBlock, (9, 9, 9)),
        110: (BasicBlock, (18, 18, 18)),
    }

    def __init__(self,
                 depth: int = 32,
                 stem_channels: int = 16,
                 base_channels: int = 16,
                 num_stages: int = 3,
                 strides=(1, 2, 2),
                 dilations=(1, 1, 1),
                 out_indices=(2, ),
                 **kwargs):
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for CifarResNet; use one '
                           f'of {sorted(self.arch_settings)}')
        super().__init__(
            depth,
            stem_channels=stem_channels,
            base_channels=base_channels,
            num_stages=num_stages,
            strides=strides,
            dilations=dilations,
            out_indices=out_indices,
            **kwargs)
