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

Besides ``VisionTransformer`` (and subclasses that keep its forward), the
variants whose forward differs in ways a unit can replay are split too
(:data:`VARIANTS`): DeiT3 (position embedding before the class token, no
pre-norm), BEiT (per-layer relative position bias; optional absolute
position embedding), EVA-02 (rotary embedding: its layers need the patch
grid, which the embedding unit records for them) and DeiT's distilled ViT
(class and distillation tokens; not with ``out_type='cls_token'``, whose
output is a pair of tensors).
"""
from typing import List, Optional, Tuple

import torch
from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import Unregistered, optional_types
from .base import BackboneUnits, StemAndBlock, Unit, fresh_copy

#: Output types a unit chain can produce (``featmap`` needs the patch grid
#: of the input image, which a token sequence no longer carries).
OUT_TYPES = ('cls_token', 'avg_featmap', 'raw')


class PatchGrid:
    """The patch grid of the current input, recorded by the embedding unit
    for EVA-02's layers (their rotary embedding needs it; a token sequence
    does not carry it). Shared, not copied, by ``deepcopy``, so the fresh
    layers of an aux net read it too."""
    __slots__ = ('hw', )

    def __init__(self):
        self.hw: Optional[Tuple[int, int]] = None

    def __deepcopy__(self, memo):
        return self


class ViTStem(nn.Module):
    """Patch embedding, class (and distillation) token, position
    embedding, dropout and pre-norm of a ViT (its own modules and
    parameters) in the order its variant's forward runs them, returning
    the token sequence.

    Args:
        backbone (nn.Module): The ViT.
        variant (str): Its key in :data:`VARIANTS`. Defaults to ``'vit'``.
        grid (PatchGrid, optional): Where to record the patch grid.
    """

    def __init__(self, backbone: nn.Module, variant: str = 'vit',
                 grid: Optional[PatchGrid] = None):
        super().__init__()
        self.variant = variant
        self.patch_embed = backbone.patch_embed
        self.drop_after_pos = backbone.drop_after_pos
        # DeiT3, BEiT and the distilled ViT run no pre-norm.
        self.pre_norm = backbone.pre_norm if variant in ('vit', 'eva02') \
            else nn.Identity()
        # The backbone's own parameters, so the unit owns them too.
        if backbone.cls_token is not None:
            self.cls_token = backbone.cls_token
        if variant == 'distilled':
            self.dist_token = backbone.dist_token
        self.pos_embed = backbone.pos_embed  # None: BEiT without one
        self._backbone = Unregistered(backbone)
        self._grid = grid

    def _add_pos(self, x, patch_resolution, num_extra_tokens):
        from mmpretrain.models.utils import resize_pos_embed
        if self.pos_embed is None:
            return x
        backbone = self._backbone.module
        return x + resize_pos_embed(
            self.pos_embed, backbone.patch_resolution, patch_resolution,
            mode=backbone.interpolate_mode,
            num_extra_tokens=num_extra_tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        backbone = self._backbone.module
        n = x.shape[0]
        x, patch_resolution = self.patch_embed(x)
        if self._grid is not None:
            self._grid.hw = patch_resolution
        if self.variant == 'deit3':  # position first, then the class token
            x = self.drop_after_pos(self._add_pos(x, patch_resolution, 0))
            if backbone.cls_token is not None:
                x = torch.cat((self.cls_token.expand(n, -1, -1), x), dim=1)
            return x
        tokens = [self.cls_token.expand(n, -1, -1)] \
            if backbone.cls_token is not None else []
        if self.variant == 'distilled':
            tokens.append(self.dist_token.expand(n, -1, -1))
        x = torch.cat((*tokens, x), dim=1) if tokens else x
        x = self._add_pos(x, patch_resolution, backbone.num_extra_tokens)
        return self.pre_norm(self.drop_after_pos(x))


class ViTLayer(nn.Module):
    """One encoder layer of a variant whose layers take more than the
    tokens: BEiT's (``rel_pos_bias=None``: each layer has its own) or
    EVA-02's (the patch grid).

    Args:
        layer (nn.Module): The encoder layer.
        grid (PatchGrid, optional): EVA-02's patch grid; None for BEiT.
    """

    def __init__(self, layer: nn.Module, grid: Optional[PatchGrid] = None):
        super().__init__()
        self.layer = layer
        self._grid = grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._grid is not None:
            return self.layer(x, self._grid.hw)
        return self.layer(x, None)


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


#: Variant key -> the mmpretrain class whose forward it replays.
VARIANTS = {
    'vit': 'VisionTransformer',
    'deit3': 'DeiT3',
    'beit': 'BEiTViT',
    'eva02': 'ViTEVA02',
    'distilled': 'DistilledVisionTransformer',
}


def _variant(backbone_cls: type) -> Optional[str]:
    """The key of the variant whose forward ``backbone_cls`` keeps, or None
    (a forward of its own)."""
    import mmpretrain.models.backbones as backbones
    for key, name in VARIANTS.items():
        klass = getattr(backbones, name)
        if issubclass(backbone_cls, klass) and \
                backbone_cls.forward is klass.forward and \
                backbone_cls._format_output is klass._format_output:
            return key
    return None


def _variant_refusal(backbone_cls: type, cfg) -> Optional[str]:
    """Why a ViT variant cannot be split, from its class and config."""
    variant = _variant(backbone_cls)
    if variant is None:
        return (f'{backbone_cls.__name__} has its own forward (extra inputs '
                'to its layers or extra outputs), which a chain of '
                'one-tensor units cannot replay')
    out_type = cfg.get('out_type', 'cls_token')
    if variant == 'distilled' and out_type == 'cls_token':
        return (f'{backbone_cls.__name__} has its own forward output for '
                "out_type='cls_token': a pair (class, distillation token),"
                ' where a unit hands on one tensor')
    if variant == 'beit' and cfg.get('use_shared_rel_pos_bias', False):
        return ('use_shared_rel_pos_bias=True: one relative position bias '
                'for all layers would be trained by every local module')
    return None


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
                       'keep its forward, DeiT3, BEiTViT, ViTEVA02, '
                       'DistilledVisionTransformer (out_indices: last '
                       f"layer; out_type: {', '.join(OUT_TYPES)})")

    @classmethod
    def supported_types(cls):
        return optional_types('mmpretrain.models.backbones',
                              'VisionTransformer', 'BEiTViT')

    @classmethod
    def refusal(cls, backbone_cls, cfg):
        why = _variant_refusal(backbone_cls, cfg)
        if why:
            return why
        if cfg.get('out_type', 'cls_token') not in OUT_TYPES:
            return f"out_type='{cfg.get('out_type')}' (dense output)"
        indices = cfg.get('out_indices', -1)
        if not isinstance(indices, int) and list(indices) != [-1]:
            return f'out_indices={tuple(indices)} (several outputs)'
        return None

    def _init_stages(self):
        backbone = self.backbone
        why = _variant_refusal(type(backbone), dict(
            out_type=backbone.out_type, use_shared_rel_pos_bias=getattr(
                backbone, 'rel_pos_bias', None) is not None))
        if why:
            # DeiT's distillation token pair, BEiT's shared relative
            # position bias, MAE's masking: more than one tensor.
            raise ValueError(f'ViTUnits cannot split this '
                             f'{type(backbone).__name__}: {why}.')
        self.variant = _variant(type(backbone))
        self.grid = PatchGrid() if self.variant == 'eva02' else None
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
        # Layers as units run them: BEiT's and EVA-02's take more.
        self.layers = list(backbone.layers) if self.variant in (
            'vit', 'deit3', 'distilled') else [
                ViTLayer(layer, self.grid) for layer in backbone.layers]

    def _build_units(self) -> List[Unit]:
        stem = ViTStem(self.backbone, self.variant, self.grid)
        layers = self.layers
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
        from .swin import fresh_swin_copy  # BEiT: its bias tables too
        return nn.Sequential(fresh_swin_copy(self.layers[-1]),
                             fresh_copy(self.output))
