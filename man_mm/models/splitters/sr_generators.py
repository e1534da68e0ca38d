"""Cut mmagic's plain-body SR generators into units: MSRResNet, RRDBNet,
SwinIRNet.

Like EDSR (:mod:`.edsr`), each is a *stem* (input handling and
``conv_first``, the shallow feature), a body that is one sequence of blocks
and a tail. A unit is one body block, the stem going with the first one; the
body is a single stage; the tail is the task head, replayed by
:class:`man_mm.models.task_adapters.EditTaskAdapter` (see
``generator_tail`` there), global skip included:

- ``MSRResNet`` (SRResNet/SRGAN): stem ``lrelu(conv_first(x))``, body
  ``trunk_net`` (``ResidualBlockNoBN``). Its only global skip is the input
  image, bilinearly upsampled and added to the output (no feature skip).
- ``RRDBNet`` (ESRGAN): stem ``pixel_unshuffle`` (x1/x2) and
  ``conv_first``, body ``body`` (``RRDB``); the tail adds ``conv_first``'s
  output to ``conv_body(body)``.
- ``SwinIRNet``: stem = padding to the window size, mean/``img_range``
  normalisation, ``conv_first``, ``patch_embed`` (+ absolute position
  embedding, dropout); body = the RSTBs ``layers`` (each takes tokens and
  ``x_size``). Between units the feature travels as a ``(N, C, H, W)`` map
  (a pure reshape of the tokens); the last unit also runs the final
  ``norm``. The tail adds ``conv_first``'s output to ``conv_after_body``.
"""
from typing import List

from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import Unregistered, optional_types
from .base import BackboneUnits, StemAndBlock, Unit, fresh_copy


class MSRResNetStem(nn.Module):
    """``lrelu(conv_first(x))`` of an ``MSRResNet`` (its own modules)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.conv_first = generator.conv_first
        self.lrelu = generator.lrelu

    def forward(self, x):
        return self.lrelu(self.conv_first(x))


class RRDBNetStem(nn.Module):
    """Pixel-unshuffle (x1, x2) and ``conv_first`` of an ``RRDBNet``."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.conv_first = generator.conv_first
        self.upscale_factor = generator.upscale_factor

    def forward(self, x):
        if self.upscale_factor in [1, 2]:
            from mmagic.models.archs import pixel_unshuffle
            x = pixel_unshuffle(x, scale=4 // self.upscale_factor)
        return self.conv_first(x)


class SwinIRStem(nn.Module):
    """Padding, normalisation, ``conv_first``, ``patch_embed``, absolute
    position embedding and dropout of a ``SwinIRNet``, as a map."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.conv_first = generator.conv_first
        self.patch_embed = generator.patch_embed
        self.pos_drop = generator.pos_drop
        if generator.ape:
            self.absolute_pos_embed = generator.absolute_pos_embed
        self._generator = Unregistered(generator)

    def forward(self, x):
        gen = self._generator.module
        x = gen.check_image_size(x)
        gen.mean = gen.mean.type_as(x)  # as its forward does
        x = self.conv_first((x - gen.mean) * gen.img_range)
        h, w = x.shape[2:]
        tokens = self.patch_embed(x)
        if gen.ape:
            tokens = tokens + self.absolute_pos_embed
        return _to_map(self.pos_drop(tokens), h, w)


def _to_map(tokens, h, w):
    """``(N, H*W, C)`` -> ``(N, C, H, W)``, as ``PatchUnEmbed``."""
    n, _, c = tokens.shape
    return tokens.transpose(1, 2).reshape(n, c, h, w)


class RSTBOnMap(nn.Module):
    """One RSTB (``layer(tokens, x_size)``) on a ``(N, C, H, W)`` map,
    followed by the generator's final ``norm`` for the last one."""

    def __init__(self, layer: nn.Module, norm: nn.Module = None):
        super().__init__()
        self.layer = layer
        self.norm = norm

    def forward(self, x):
        h, w = x.shape[2:]
        tokens = self.layer(x.flatten(2).transpose(1, 2), (h, w))
        if self.norm is not None:
            tokens = self.norm(tokens)
        return _to_map(tokens, h, w)


class _PlainBodyUnits(BackboneUnits):
    """A stem, then one stage of blocks (the EDSR layout)."""
    role = 'generator'
    #: Attribute of the body's block list.
    body_name = 'body'

    def _init_stages(self):
        self.stages = [getattr(self.backbone, self.body_name)]
        self.stage_names = [self.body_name]

    def _stem(self) -> nn.Module:
        raise NotImplementedError

    def _block(self, i: int, block: nn.Module) -> nn.Module:
        """The unit module of body block ``i``."""
        return block

    def _build_units(self) -> List[Unit]:
        stem = self._stem()
        body = self.stages[0]
        units = []
        if self.stem_as_unit:
            units.append(Unit('stem', stem, -1, -1, False))
        for i, block in enumerate(body):
            module, name = self._block(i, block), f'{self.body_name}.{i}'
            if i == 0 and not self.stem_as_unit:
                module, name = StemAndBlock(stem, module), \
                    f'stem+{self.body_name}.0'
            units.append(Unit(name, module, 0, i, i == len(body) - 1))
        return units

    def stage_out_channels(self, stage: int) -> int:
        return self.backbone.conv_first.out_channels

    def _fresh_block(self) -> nn.Module:
        raise NotImplementedError

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """One fresh body block if any body block follows ``unit`` (the
        body is one stage: one SLM layer for its rest), with new
        parameters."""
        self.check_width(width)
        body = self.stages[0]
        if unit.stage >= 0 and unit.index == len(body) - 1:
            return nn.Sequential()
        block = self._fresh_block()
        block.train(body.training)
        return nn.Sequential(block)


@UNIT_SPLITTERS.register_module()
class MSRResNetUnits(_PlainBodyUnits):
    """Units of an mmagic ``MSRResNet`` (SRResNet, SRGAN): ``trunk_net``'s
    residual blocks."""
    supported_names = 'mmagic.MSRResNet (generator of BaseEditModel)'
    body_name = 'trunk_net'

    @classmethod
    def supported_types(cls):
        return optional_types('mmagic.models.editors.srgan.sr_resnet',
                              'MSRResNet')

    def _stem(self):
        return MSRResNetStem(self.backbone)

    def _fresh_block(self):
        from mmagic.models.archs import ResidualBlockNoBN
        return ResidualBlockNoBN(mid_channels=self.backbone.mid_channels,
                                 res_scale=self.stages[0][0].res_scale)


@UNIT_SPLITTERS.register_module()
class RRDBNetUnits(_PlainBodyUnits):
    """Units of an mmagic ``RRDBNet`` (ESRGAN): ``body``'s RRDBs."""
    supported_names = 'mmagic.RRDBNet (generator of BaseEditModel)'

    @classmethod
    def supported_types(cls):
        return optional_types('mmagic.models.editors.esrgan.rrdb_net',
                              'RRDBNet')

    def _stem(self):
        return RRDBNetStem(self.backbone)

    def _fresh_block(self):
        from mmagic.models.editors.esrgan.rrdb_net import RRDB
        block = self.stages[0][0]
        return RRDB(block.rdb1.conv5.out_channels,
                    block.rdb1.conv1.out_channels)


@UNIT_SPLITTERS.register_module()
class SwinIRNetUnits(_PlainBodyUnits):
    """Units of an mmagic ``SwinIRNet``: its RSTBs (``layers``), the last
    with the final ``norm``."""
    supported_names = 'mmagic.SwinIRNet (generator of BaseEditModel)'
    body_name = 'layers'

    @classmethod
    def supported_types(cls):
        return optional_types('mmagic.models.editors.swinir.swinir_net',
                              'SwinIRNet')

    def _stem(self):
        return SwinIRStem(self.backbone)

    def _block(self, i, block):
        last = i == len(self.stages[0]) - 1
        return RSTBOnMap(block, self.backbone.norm if last else None)

    def _fresh_block(self):
        """A fresh copy of the last RSTB and of the final norm (the rest of
        the body, as SwinIR ends it), relative position tables re-drawn."""
        from mmengine.model.weight_init import trunc_normal_
        new = RSTBOnMap(fresh_copy(self.stages[0][-1]),
                        fresh_copy(self.backbone.norm))
        for m in new.modules():
            table = getattr(m, 'relative_position_bias_table', None)
            if isinstance(table, nn.Parameter):
                trunc_normal_(table, std=0.02)
        return new

