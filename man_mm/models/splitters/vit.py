"""Cut an mmpretrain Vision Transformer into units: one per encoder layer.

A ViT is a plain sequence: patch embedding (with the class token, the
position embedding and the optional pre-norm), then N identical
transformer encoder layers, then the final norm and the output the head
reads (the class token, the averaged patch tokens or the raw tokens).
Every unit is one encoder layer on the token sequence; the patch embedding
joins the first layer (or is a unit of its own), and the final norm and
output join the last. A ViT has one stage, so MAN's SLM aux for it is the
paper's "down-sized replica of the rest of the backbone" at one layer per
stage: one fresh encoder layer, a fresh final norm, then the real head.
"""
from typing import List

import torch
from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import Unregistered, optional_types
from .base import BackboneUnits, StemAndBlock, Unit, fresh_copy

#: Output types a unit chain can produce (``featmap`` needs the patch grid
#: of the input image, which a token sequence no longer carries).
OUT_TYPES = ('cls_token', 'avg_featmap', 'raw')


class ViTStem(nn.Module):
    """Patch embedding, class token, position embedding, dropout and
    pre-norm of a ``VisionTransformer`` (its own modules and parameters),
    returning the token sequence."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.patch_embed = backbone.patch_embed
        self.drop_after_pos = backbone.drop_after_pos
        self.pre_norm = backbone.pre_norm
        # The backbone's own parameters, so the unit owns them too.
        if backbone.cls_token is not None:
            self.cls_token = backbone.cls_token
        self.pos_embed = backbone.pos_embed
        self._backbone = Unregistered(backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from mmpretrain.models.utils import resize_pos_embed
        backbone = self._backbone.module
        x, patch_resolution = self.patch_embed(x)
        if backbone.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x),
                          dim=1)
        x = x + resize_pos_embed(
            self.pos_embed, backbone.patch_resolution, patch_resolution,
            mode=backbone.interpolate_mode,
            num_extra_tokens=backbone.num_extra_tokens)
        return self.pre_norm(self.drop_after_pos(x))


class ViTOutput(nn.Module):
    """The final norm and the output the head reads, as
    ``VisionTransformer._format_output`` makes it."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.final_norm = backbone.ln1 if backbone.final_norm else \
            nn.Identity()
        self.out_type = backbone.out_type
        self.num_extra_tokens = backbone.num_extra_tokens
        if self.out_type == 'avg_featmap':
            self.avg_norm = backbone.ln2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.final_norm(x)
        if self.out_type == 'cls_token':
            return x[:, 0]
        if self.out_type == 'avg_featmap':
            return self.avg_norm(x[:, self.num_extra_tokens:].mean(dim=1))
        return x  # 'raw'


def _plain_vits():
    """``VisionTransformer`` and subclasses that keep its forward (DeiT3,
    ...): their layers take and return one token tensor."""
    return optional_types('mmpretrain.models.backbones', 'VisionTransformer')


@UNIT_SPLITTERS.register_module()
class ViTUnits(BackboneUnits):
    """Units of an mmpretrain ``VisionTransformer``: one per encoder layer.

    Args:
        backbone (VisionTransformer): A built ViT whose class keeps
            ``VisionTransformer.forward``, with ``out_indices`` the last
            layer and ``out_type`` one of ``'cls_token'``,
            ``'avg_featmap'``, ``'raw'`` (image classification).
        stem_as_unit (bool, optional): Make the patch embedding a unit of
            its own. Defaults to False (it joins the first layer).
    """
    supported_names = ('mmpretrain.VisionTransformer and subclasses that '
                       'keep its forward (out_indices: last layer; '
                       f"out_type: {', '.join(OUT_TYPES)})")

    @classmethod
    def supported_types(cls):
        return _plain_vits()

    @classmethod
    def refusal(cls, backbone_cls, cfg):
        vit = _plain_vits()[0]
        if backbone_cls.forward is not vit.forward or \
                backbone_cls._format_output is not vit._format_output:
            return f'{backbone_cls.__name__} has its own forward'
        if cfg.get('out_type', 'cls_token') not in OUT_TYPES:
            return f"out_type='{cfg.get('out_type')}' (dense output)"
        indices = cfg.get('out_indices', -1)
        if not isinstance(indices, int) and list(indices) != [-1]:
            return f'out_indices={tuple(indices)} (several outputs)'
        return None

    def _init_stages(self):
        backbone = self.backbone
        vit = _plain_vits()[0]
        if type(backbone).forward is not vit.forward or \
                type(backbone)._format_output is not vit._format_output:
            # DeiT's distillation token, BEiT's shared relative position
            # bias, MAE's masking: their layers need more than one tensor.
            raise ValueError(
                f'ViTUnits splits ViTs that keep VisionTransformer.forward; '
                f'{type(backbone).__name__} has its own forward (extra '
                'inputs to its layers or extra outputs), which a chain of '
                'one-tensor units cannot replay.')
        last = len(backbone.layers) - 1
        if list(backbone.out_indices) != [last] or \
                backbone.out_type not in OUT_TYPES:
            raise ValueError(
                f'ViTUnits splits a VisionTransformer with out_indices=('
                f'{last},) and out_type in {OUT_TYPES} (the classifier '
                f'layout); got out_indices={tuple(backbone.out_indices)}, '
                f"out_type='{backbone.out_type}'.")
        self.stages = [backbone.layers]
        self.stage_names = ['layers']
        self.output = ViTOutput(backbone)

    def _build_units(self) -> List[Unit]:
        stem = ViTStem(self.backbone)
        layers = list(self.backbone.layers)
        units = []
        if self.stem_as_unit:
            units.append(Unit('patch_embed', stem, -1, -1, False))
        for i, layer in enumerate(layers):
            parts, name = [layer], f'layers.{i}'
            if i == 0 and not self.stem_as_unit:
                parts, name = [StemAndBlock(stem, layer)], f'patch_embed+{name}'
            units.append(self.make_unit(name, parts, 0, i,
                                        i == len(layers) - 1, self.output))
        return units

    def stage_out_channels(self, stage: int) -> int:
        return self.backbone.embed_dims

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """One fresh encoder layer for the rest of the network (its single
        stage) and a fresh final norm and output; nothing after the last
        layer."""
        self.check_width(width)
        if unit.is_stage_end:
            return nn.Sequential()
        return nn.Sequential(fresh_copy(self.backbone.layers[-1]),
                             fresh_copy(self.output))
