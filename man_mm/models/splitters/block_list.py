"""Cut mmpretrain's plain-chain classification backbones into units.

Many mmpretrain backbones are the same chain once read the right way: an
optional stem, stages of blocks that each take and return one tensor (a
stage may open with an *entry*, e.g. a downsample layer, and close with an
*exit*, e.g. a per-stage norm), then a *tail* that makes the classifier's
output (final norm, pooling, a VGG's fully connected layers). A family is
one reader function here (:data:`FAMILIES`: RepVGG, MobileOne, VGG,
MobileNetV3, PoolFormer, RIFormer, EdgeNeXt, HorNet, VAN, ConvMixer, TinyViT,
LeViT, XCiT, SwinTransformerV2, ShuffleNetV1/V2, MlpMixer, RepMLPNet,
RepLKNet, MobileViT, T2T_ViT, EfficientFormer, LeNet5) that finds those
parts in a built backbone;
:class:`BlockListUnits` does the rest for all of them:

- a unit is one block, with its stage's entry in front of the stage's
  first block (the stem too, for the very first) and its stage's exit (and,
  for the last, the tail) after the stage's last block, so the units, run
  in order, return exactly ``backbone(x)[-1]``;
- MAN's SLM aux after a unit (the paper's "one layer per stage") is a fresh
  copy of its stage's last block (with the exit) if the stage goes on, then
  per later stage its entry, first block and exit, then the tail.

Token-based stages (SwinV2, XCiT's patch layers) hand ``(N, C, H, W)``
maps between units, as :mod:`.swin` does, so no unit needs the patch grid
from elsewhere; other token nets (LeViT, TinyViT, MLP-Mixer, T2T-ViT,
XCiT's class attention) hand their ``(N, L, C)`` tokens on as they are.
Reparameterisable nets (RepVGG, MobileOne, RIFormer, LeViT, RepMLPNet,
RepLKNet)
split whichever form was built: the multi-branch training blocks, or the
fused ones of a ``deploy=True`` config.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
from torch import nn

from man_mm.registry import UNIT_SPLITTERS
from man_mm.utils import Unregistered, optional_types
from .base import (BackboneUnits, StemAndBlock, Unit, fresh_copy,
                   several_outputs)
from .stage_list import _runs
from .swin import (PatchMergingUnit, SwinBlockUnit, SwinOutput, SwinStem,
                   to_map, to_tokens)


@dataclass
class Stage:
    """One stage: ``entry`` (or None), ``blocks``, ``exit`` (or None)."""
    blocks: List[nn.Module]
    entry: Optional[nn.Module] = None
    exit: Optional[nn.Module] = None


@dataclass
class Layout:
    """A backbone read as ``stem -> stages -> tail`` (all its own
    modules)."""
    stem: Optional[nn.Module]
    stages: List[Stage]
    tail: Optional[nn.Module] = None
    stage_names: List[str] = field(default_factory=list)


# ----------------------------------------------------------------------
# Small adapters: the bits of a backbone's forward between its modules
# ----------------------------------------------------------------------
class Reshape(nn.Module):
    """A parameter-free reshape between a backbone's modules (named, not a
    lambda, so the model still pickles).

    Args:
        kind (str): ``'flatten'`` (``x.view(N, -1)``, VGG), ``'squeeze'``
            (LeNet-5), ``'to_tokens'`` (``(N, C, H, W)`` -> ``(N, HW, C)``,
            LeViT), ``'to_map'`` (the reverse on a ``size`` x ``size`` grid,
            LeViT's output) or ``'transpose'`` (``(N, L, C)`` ->
            ``(N, C, L)``, MLP-Mixer's output).
        size (int): The grid side of ``'to_map'``.
    """

    def __init__(self, kind: str, size: int = 0):
        super().__init__()
        self.kind, self.size = kind, size

    def forward(self, x):
        if self.kind == 'flatten':
            return x.view(x.size(0), -1)
        if self.kind == 'squeeze':
            return x.squeeze()
        if self.kind == 'to_tokens':
            return x.flatten(2).transpose(1, 2)
        if self.kind == 'to_map':
            return x.reshape(x.shape[0], self.size, self.size,
                             x.shape[-1]).permute(0, 3, 1, 2).contiguous()
        return x.transpose(1, 2)  # 'transpose'

    def extra_repr(self) -> str:
        return f"'{self.kind}'"


class GapNorm(nn.Module):
    """``norm(x.mean([-2, -1]))`` or ``norm(x)``, as ConvNeXt-like nets
    (EdgeNeXt, HorNet) output with/without ``gap_before_final_norm``.

    Args:
        norm (nn.Module): The backbone's final norm.
        gap (bool): Pool globally first.
        flatten_first (bool): Flatten the pooled ``(N, C, 1, 1)`` before
            the norm (EdgeNeXt) rather than after (HorNet).
    """

    def __init__(self, norm: nn.Module, gap: bool, flatten_first: bool):
        super().__init__()
        self.norm, self.gap, self.flatten_first = norm, gap, flatten_first

    def forward(self, x):
        if not self.gap:
            return self.norm(x).contiguous()
        x = x.mean([-2, -1], keepdim=True)
        if self.flatten_first:
            return self.norm(x.flatten(1))
        return self.norm(x).flatten(1)


class AddPosEmbed(nn.Module):
    """EdgeNeXt's positional encoding, added after its first stage."""

    def __init__(self, pos_embed: nn.Module):
        super().__init__()
        self.pos_embed = pos_embed

    def forward(self, x):
        b, _, h, w = x.shape
        return x + self.pos_embed((b, h, w))


class FirstOfPair(nn.Module):
    """A layer returning ``(x, hw_shape)`` (VAN's patch embedding), on
    maps."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)[0]


class TokenNorm(nn.Module):
    """A norm over the channels of a map, as tokens (VAN's stage norm)."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x):
        tokens, hw_shape = to_tokens(x)
        return to_map(self.norm(tokens), hw_shape)


class TinyViTOutput(nn.Module):
    """``TinyViT``'s final norm on its ``(N, L, C)`` tokens."""

    def __init__(self, norm: nn.Module, gap: bool, resolution):
        super().__init__()
        self.norm, self.gap, self.resolution = norm, gap, tuple(resolution)

    def forward(self, x):
        if self.gap:
            return self.norm(x.mean(1))
        out = self.norm(x)
        return out.view(x.shape[0], *self.resolution,
                        x.shape[-1]).permute(0, 3, 1, 2)


class XCiTStem(nn.Module):
    """``XCiT``'s patch embedding, Fourier position encoding and dropout,
    returning a map."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.patch_embed = backbone.patch_embed
        self.pos_embed = backbone.pos_embed if backbone.use_pos_embed \
            else None
        self.pos_drop = backbone.pos_drop

    def forward(self, x):
        b = x.shape[0]
        x, (hp, wp) = self.patch_embed(x)
        if self.pos_embed is not None:
            x = x + self.pos_embed(b, hp, wp).reshape(
                b, -1, x.size(1)).permute(0, 2, 1)
        return to_map(self.pos_drop(x), (hp, wp))


class XCABlockUnit(nn.Module):
    """One ``XCABlock`` (it needs the patch grid) on a map."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x):
        tokens, (h, w) = to_tokens(x)
        return to_map(self.block(tokens, h, w), (h, w))


class XCiTClsToken(nn.Module):
    """The map to tokens, with ``XCiT``'s class token in front (the class
    attention layers' input)."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.cls_token = backbone.cls_token  # its own parameter

    def forward(self, x):
        tokens, _ = to_tokens(x)
        return torch.cat(
            (self.cls_token.expand(x.shape[0], -1, -1), tokens), dim=1)


class XCiTOutput(nn.Module):
    """``XCiT._format_output`` after the class attention layers."""

    def __init__(self, out_type: str):
        super().__init__()
        self.out_type = out_type

    def forward(self, x):
        if self.out_type == 'cls_token':
            return x[:, 0]
        if self.out_type == 'avg_featmap':
            return x[:, 1:].mean(dim=1)
        return x  # 'raw'

    def extra_repr(self) -> str:
        return f"out_type='{self.out_type}'"


class T2TStem(nn.Module):
    """``T2T_ViT``'s tokens-to-token module, class token, position
    embedding and dropout, returning the token sequence."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.tokens_to_token = backbone.tokens_to_token
        if backbone.cls_token is not None:
            self.cls_token = backbone.cls_token  # its own parameter
        self.pos_embed = backbone.pos_embed
        self.drop_after_pos = backbone.drop_after_pos
        self._backbone = Unregistered(backbone)

    def forward(self, x):
        from mmpretrain.models.utils import resize_pos_embed
        backbone = self._backbone.module
        x, patch_resolution = self.tokens_to_token(x)
        if backbone.cls_token is not None:
            x = torch.cat(
                (self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = x + resize_pos_embed(
            self.pos_embed, backbone.patch_resolution, patch_resolution,
            mode=backbone.interpolate_mode,
            num_extra_tokens=backbone.num_extra_tokens)
        return self.drop_after_pos(x)


class TokenOutput(nn.Module):
    """A ViT-like ``_format_output`` (no norm of its own): the class
    token, the mean patch token or the raw tokens."""

    def __init__(self, out_type: str, num_extra_tokens: int):
        super().__init__()
        self.out_type, self.num_extra_tokens = out_type, num_extra_tokens

    def forward(self, x):
        if self.out_type == 'cls_token':
            return x[:, 0]
        if self.out_type == 'avg_featmap':
            return x[:, self.num_extra_tokens:].mean(dim=1)
        return x  # 'raw'

    def extra_repr(self) -> str:
        return f"out_type='{self.out_type}'"


class EfficientFormerOutput(nn.Module):
    """``EfficientFormer``'s last norm: on a map, or on its ``(N, L, C)``
    tokens (Meta3D blocks), returned as ``(N, C, L)``."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x):
        if x.dim() == 3:
            return self.norm(x).permute((0, 2, 1)).contiguous()
        return self.norm(x).contiguous()


# ----------------------------------------------------------------------
# Readers: one per family
# ----------------------------------------------------------------------
def _check_out(backbone, allowed, what: str) -> None:
    """Refuse a backbone whose ``out_indices`` is not ``allowed``."""
    got = list(backbone.out_indices)
    if got not in [list(a) for a in allowed]:
        raise ValueError(
            f'BlockListUnits splits a {type(backbone).__name__} with '
            f'out_indices={tuple(allowed[0])} ({what}: the classifier '
            f'layout); got out_indices={tuple(got)}.')


def _named_stages(backbone, names) -> List[Stage]:
    return [Stage(list(getattr(backbone, n))) for n in names]


def _repvgg(b) -> Layout:
    _check_out(b, [[len(b.stages) - 1]], 'the last stage')
    tail = None if isinstance(b.ppf, nn.Identity) else b.ppf
    return Layout(b.stem, _named_stages(b, b.stages), tail, list(b.stages))


def _mobileone(b) -> Layout:
    _check_out(b, [[len(b.stages) - 1]], 'the last stage')
    # A MobileOne block is a depthwise then a pointwise MobileOneBlock: the
    # pointwise one changes the width, so they stay together.
    stages = [Stage([nn.Sequential(*getattr(b, n)[i:i + 2])
                     for i in range(0, len(getattr(b, n)), 2)])
              for n in b.stages]
    return Layout(b.stage0, stages, None, list(b.stages))


def _vgg(b) -> Layout:
    layers = getattr(b, b.module_name)
    n = len(b.stage_blocks)
    stages = [Stage([layers[j] for j in range(*b.range_sub_modules[i])])
              for i in range(n)]
    tail = None
    if b.num_classes > 0:
        # Stage outputs besides the scores would be several outputs.
        if any(0 <= i < n for i in b.out_indices):
            raise ValueError(
                'BlockListUnits splits a VGG with a classifier whose '
                f'out_indices name no stage (e.g. ({n},)); got '
                f'{tuple(b.out_indices)}.')
        tail = nn.Sequential(Reshape('flatten'), b.classifier)
    else:
        _check_out(b, [[n - 1]], 'the last stage')
    return Layout(None, stages, tail, [f'stage{i}' for i in range(n)])


def _mobilenet_v3(b) -> Layout:
    names = list(b.layers)
    _check_out(b, [[len(names) - 1]], 'the final conv')
    blocks = [getattr(b, n) for n in names[1:-1]]
    # Stages of one shape each, as StageListUnits cuts MobileNetV2.
    stages = [Stage(run) for run in _runs([blocks])]
    return Layout(getattr(b, names[0]), stages, getattr(b, names[-1]),
                  [f'stage{i}' for i in range(len(stages))])


def _metaformer(b) -> Layout:
    """PoolFormer, RIFormer: ``network`` holds the stages (``Sequential``
    of blocks), each after its downsample (a ``PatchEmbed``) if any; the
    output is ``norm{last}``."""
    last = len(b.network) - 1
    _check_out(b, [[last]], 'the last stage')
    stages, names, entry = [], [], None
    for i, m in enumerate(b.network):
        if isinstance(m, nn.Sequential):
            stages.append(Stage(list(m), entry=entry))
            names.append(f'network.{i}')
            entry = None
        else:
            entry = m
    return Layout(b.patch_embed, stages, getattr(b, f'norm{last}'), names)


def _convnext_like(flatten_first: bool):
    """EdgeNeXt, HorNet: ``downsample_layers[i]`` then ``stages[i]``, and
    ``norm{last}`` (after global pooling or not)."""

    def read(b) -> Layout:
        last = len(b.stages) - 1
        _check_out(b, [[last]], 'the last stage')
        stages = [Stage(list(s), entry=b.downsample_layers[i] if i else None)
                  for i, s in enumerate(b.stages)]
        if getattr(b, 'pos_embed', None):  # EdgeNeXt: after stage 0
            stages[0].exit = AddPosEmbed(b.pos_embed)
        tail = GapNorm(getattr(b, f'norm{last}'), b.gap_before_final_norm,
                       flatten_first)
        return Layout(b.downsample_layers[0], stages, tail,
                      [f'stages.{i}' for i in range(len(b.stages))])

    return read


def _van(b) -> Layout:
    _check_out(b, [[b.num_stages - 1]], 'the last stage')
    stages = [Stage(list(getattr(b, f'blocks{i + 1}')),
                    entry=FirstOfPair(getattr(b, f'patch_embed{i + 1}')),
                    exit=TokenNorm(getattr(b, f'norm{i + 1}')))
              for i in range(b.num_stages)]
    return Layout(None, stages, None,
                  [f'blocks{i + 1}' for i in range(b.num_stages)])


def _convmixer(b) -> Layout:
    _check_out(b, [[len(b.stages) - 1]], 'the last block')
    return Layout(b.stem, [Stage(list(b.stages))], None, ['stages'])


def _tinyvit(b) -> Layout:
    last = len(b.stages) - 1
    _check_out(b, [[last]], 'the last stage')
    stages = [Stage(list(s.blocks), exit=s.downsample)
              for s in b.stages]
    tail = TinyViTOutput(getattr(b, f'norm{last}'), b.gap_before_final_norm,
                         b.stages[last].resolution)
    return Layout(b.patch_embed, stages, tail,
                  [f'stages.{i}' for i in range(len(b.stages))])


def _levit(b) -> Layout:
    last = len(b.stages) - 1
    _check_out(b, [[last]], 'the last stage')
    stem = nn.Sequential(b.patch_embed, Reshape('to_tokens'))
    tail = Reshape('to_map', b.resolutions[last])
    return Layout(stem, [Stage(list(s)) for s in b.stages], tail,
                  [f'stages.{i}' for i in range(len(b.stages))])


def _xcit(b) -> Layout:
    _check_out(b, [[b.num_layers - 1]], 'the last layer')
    if b.out_type not in XCIT_OUT_TYPES:
        raise ValueError(f"BlockListUnits splits an XCiT with out_type in "
                         f"{XCIT_OUT_TYPES}; got '{b.out_type}'.")
    stages = [Stage([XCABlockUnit(m) for m in b.xca_layers]),
              Stage(list(b.ca_layers), entry=XCiTClsToken(b),
                    exit=getattr(b, 'norm', None))]
    return Layout(XCiTStem(b), stages, XCiTOutput(b.out_type),
                  ['xca_layers', 'ca_layers'])


def _swin_v2(b) -> Layout:
    last = len(b.stages) - 1
    _check_out(b, [[last]], 'the last stage')
    stages = [Stage([SwinBlockUnit(m) for m in s.blocks],
                    entry=PatchMergingUnit(s.downsample)
                    if s.downsample else None)
              for s in b.stages]
    return Layout(SwinStem(b), stages, SwinOutput(getattr(b, f'norm{last}')),
                  [f'stages.{i}' for i in range(len(b.stages))])


def _shufflenet(b) -> Layout:
    """ShuffleNetV1/V2: ``conv1`` and ``maxpool``, then ``layers`` (V2's
    last is a 1x1 conv: the tail)."""
    layers = list(b.layers)
    _check_out(b, [[len(layers) - 1]], 'the last layer')
    tail = None if isinstance(layers[-1], nn.Sequential) else layers.pop()
    return Layout(nn.Sequential(b.conv1, b.maxpool),
                  [Stage(list(m)) for m in layers], tail,
                  [f'layers.{i}' for i in range(len(layers))])


def _mlp_mixer(b) -> Layout:
    _check_out(b, [[len(b.layers) - 1]], 'the last layer')
    tail = nn.Sequential(b.norm1, Reshape('transpose'))
    return Layout(FirstOfPair(b.patch_embed), [Stage(list(b.layers))], tail,
                  ['layers'])


def _repmlp(b) -> Layout:
    last = len(b.stages) - 1
    if list(b.out_indice) != [last]:
        raise ValueError(
            f'BlockListUnits splits a RepMLPNet with out_indices=({last},) '
            f'(the classifier layout); got {tuple(b.out_indice)}.')
    stages = [Stage(list(s), exit=b.downsample_layers[i] if i < last
                    else None) for i, s in enumerate(b.stages)]
    tail = b.final_norm if isinstance(b.final_norm, nn.Module) else None
    return Layout(FirstOfPair(b.patch_embed), stages, tail,
                  [f'stages.{i}' for i in range(len(b.stages))])


def _replknet(b) -> Layout:
    last = b.num_stages - 1
    _check_out(b, [[last]], 'the last stage')
    stages = [Stage(list(b.stages[i].blocks),
                    entry=b.transitions[i - 1] if i else None)
              for i in range(b.num_stages)]
    return Layout(nn.Sequential(*b.stem), stages, b.stages[last].norm,
                  [f'stages.{i}' for i in range(b.num_stages)])


def _mobilevit(b) -> Layout:
    layers = list(b.layers)
    _check_out(b, [[len(layers) - 1]], 'the last layer')
    stages = [Stage(list(m) if isinstance(m, nn.Sequential) else [m])
              for m in layers]
    return Layout(b.stem, stages, b.conv_1x1_exp,
                  [f'layers.{i}' for i in range(len(layers))])


def _t2t_vit(b) -> Layout:
    _check_out(b, [[len(b.encoder) - 1]], 'the last layer')
    if b.out_type not in XCIT_OUT_TYPES:
        raise ValueError(f"BlockListUnits splits a T2T_ViT with out_type in "
                         f"{XCIT_OUT_TYPES}; got '{b.out_type}'.")
    out = TokenOutput(b.out_type, b.num_extra_tokens)
    tail = nn.Sequential(b.norm, out) if b.final_norm else out
    return Layout(T2TStem(b), [Stage(list(b.encoder))], tail, ['encoder'])


def _efficientformer(b) -> Layout:
    last = len(b.network) - 1
    _check_out(b, [[last]], 'the last stage')
    if b.reshape_last_feat and b.vit_num > 0:
        # The tokens' map shape comes from the last stage's input.
        raise ValueError('BlockListUnits splits an EfficientFormer with '
                         'reshape_last_feat=False when vit_num > 0.')
    stages, names = [], []
    for i, stage in enumerate(b.network):
        blocks = list(stage)
        entry = blocks.pop(0) if b.downsamples[i] else None
        flat = [j for j, m in enumerate(blocks)
                if type(m).__name__ == 'Flat']
        if flat:  # maps to tokens: the Meta3D blocks are a stage of their own
            j = flat[0]
            if j > 0:
                stages.append(Stage(blocks[:j], entry=entry))
                names.append(f'network.{i}')
                entry = None
            stages.append(Stage(blocks[j + 1:],
                                entry=_seq(entry, blocks[j])))
            names.append(f'network.{i}.meta3d')
        else:
            stages.append(Stage(blocks, entry=entry))
            names.append(f'network.{i}')
    return Layout(b.patch_embed, stages,
                  EfficientFormerOutput(getattr(b, f'norm{last}')), names)


def _lenet5(b) -> Layout:
    """LeNet-5: one stage per convolution (each changes the width), then
    its classifier on the squeezed features, if any."""
    stages = []
    for m in b.features:
        if isinstance(m, nn.Conv2d) or not stages:
            stages.append(Stage([]))
        stages[-1].blocks.append(m)
    tail = None
    if b.num_classes > 0:
        tail = nn.Sequential(Reshape('squeeze'), b.classifier)
    return Layout(None, stages, tail,
                  [f'conv{i + 1}' for i in range(len(stages))])


#: XCiT and T2T-ViT outputs a unit chain can make (``featmap`` needs the
#: patch grid).
XCIT_OUT_TYPES = ('cls_token', 'avg_featmap', 'raw')

#: mmpretrain backbone class name -> reader.
FAMILIES: Dict[str, Callable[[nn.Module], Layout]] = {
    'RepVGG': _repvgg,
    'MobileOne': _mobileone,
    'VGG': _vgg,
    'MobileNetV3': _mobilenet_v3,
    'PoolFormer': _metaformer,
    'RIFormer': _metaformer,
    'EdgeNeXt': _convnext_like(flatten_first=True),
    'HorNet': _convnext_like(flatten_first=False),
    'VAN': _van,
    'ConvMixer': _convmixer,
    'TinyViT': _tinyvit,
    'LeViT': _levit,
    'XCiT': _xcit,
    'SwinTransformerV2': _swin_v2,
    'ShuffleNetV1': _shufflenet,
    'ShuffleNetV2': _shufflenet,
    'MlpMixer': _mlp_mixer,
    'RepMLPNet': _repmlp,
    'RepLKNet': _replknet,
    'MobileViT': _mobilevit,
    'T2T_ViT': _t2t_vit,
    'EfficientFormer': _efficientformer,
    'LeNet5': _lenet5,
}


def _reader(backbone_cls: type):
    for klass in backbone_cls.__mro__:
        if klass.__name__ in FAMILIES:
            return FAMILIES[klass.__name__]
    return None


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _join_paramless(stage: Stage) -> None:
    """Move parameter-free layers (VGG's max pooling) out of ``stage``'s
    blocks: a unit with nothing to train would make an empty local step.
    Those at the stage's start join its entry, those at its end its exit
    (so a fresh "entry, first block, exit" keeps the stage's stride), the
    rest the block before them."""
    blocks = list(stage.blocks)
    head = []
    while blocks and not _has_params(blocks[0]):
        head.append(blocks.pop(0))
    tail = []
    while blocks and not _has_params(blocks[-1]):
        tail.insert(0, blocks.pop())
    joined: List[List[nn.Module]] = []
    for block in blocks:
        if _has_params(block) or not joined:
            joined.append([block])
        else:
            joined[-1].append(block)
    if not joined:
        raise ValueError('a stage without parameters cannot be a unit')
    stage.blocks = [_seq(*b) for b in joined]
    if head:
        stage.entry = _seq(stage.entry, *head)
    if tail:
        stage.exit = _seq(*tail, stage.exit)


def _width(module: nn.Module) -> int:
    """Output channels of a block: its last layer's that says."""
    if isinstance(module, nn.Sequential):  # the last part with a width
        for part in reversed(list(module)):
            try:
                return _width(part)
            except ValueError:
                continue
    if hasattr(module, 'branch2'):  # ShuffleNetV2: two halves, concatenated
        return 2 * _width(module.branch2)
    for m in reversed(list(module.modules())):
        if isinstance(m, nn.Conv2d):
            return m.out_channels
        if isinstance(m, nn.Linear):
            return m.out_features
        if isinstance(m, nn.LayerNorm):
            return m.normalized_shape[0]
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            return m.num_features
        if isinstance(m, nn.GroupNorm):
            return m.num_channels
    raise ValueError(f'cannot tell the width of {type(module).__name__}')


def _seq(*parts: Optional[nn.Module]) -> nn.Module:
    parts = [p for p in parts if p is not None]
    return parts[0] if len(parts) == 1 else nn.Sequential(*parts)


@UNIT_SPLITTERS.register_module()
class BlockListUnits(BackboneUnits):
    """Units of mmpretrain's plain-chain classification backbones: one per
    block (see :data:`FAMILIES`).

    Args:
        backbone (nn.Module): A built backbone of one of the families,
            whose output is the classifier's (its last stage only).
        stem_as_unit (bool, optional): Make the stem a unit of its own
            (families with a stem). Defaults to False (it joins the first
            block).
    """
    supported_names = ('mmpretrain.' + ', '.join(FAMILIES) +
                       ' (out_indices: the last stage)')

    @classmethod
    def supported_types(cls):
        return optional_types('mmpretrain.models.backbones', *FAMILIES)

    @classmethod
    def refusal(cls, backbone_cls, cfg):
        why = several_outputs(cfg)
        if why:
            return why
        if backbone_cls.__name__ in ('XCiT', 'T2T_ViT') and \
                cfg.get('out_type', 'cls_token') not in XCIT_OUT_TYPES:
            return f"out_type='{cfg.get('out_type')}' (dense output)"
        return None

    def _init_stages(self):
        layout = _reader(type(self.backbone))(self.backbone)
        for stage in layout.stages:
            _join_paramless(stage)
        self.layout = layout
        self.stem, self.tail = layout.stem, layout.tail
        self.stages = [nn.ModuleList(s.blocks) for s in layout.stages]
        self.stage_names = layout.stage_names

    def _build_units(self) -> List[Unit]:
        units = []
        stem = self.stem
        if self.stem_as_unit and stem is not None:
            units.append(Unit('stem', stem, -1, -1, False))
            stem = None
        last = len(self.layout.stages) - 1
        for s, stage in enumerate(self.layout.stages):
            n = len(stage.blocks)
            for i, block in enumerate(stage.blocks):
                parts, name = [block], f'{self.stage_names[s]}.{i}'
                if i == 0 and stage.entry is not None:
                    parts.insert(0, stage.entry)
                if i == n - 1 and stage.exit is not None:
                    parts.append(stage.exit)
                if i == n - 1 and s == last and self.tail is not None:
                    parts.append(self.tail)
                    name += '+tail'
                if s == 0 and i == 0 and stem is not None:
                    module = StemAndBlock(stem, *parts)
                    name = 'stem+' + name
                else:
                    module = _seq(*parts)
                units.append(Unit(name, module, s, i, i == n - 1))
        return units

    def stage_out_channels(self, stage: int) -> int:
        if stage < 0:
            return _width(self.stem)
        s = self.layout.stages[stage]
        return _width(_seq(s.blocks[-1], s.exit if s.exit is not None and
                           _has_params(s.exit) else None))

    def fresh_blocks_after(self, unit: Unit,
                           width: float = 1.0) -> nn.Sequential:
        """Fresh layers finishing the network after ``unit``: its stage's
        last block (and exit) if the stage goes on, then per later stage
        its entry, first block and exit, then the tail."""
        self.check_width(width)
        stages = self.layout.stages
        if unit.stage == len(stages) - 1 and unit.is_stage_end:
            return nn.Sequential()
        blocks = []
        if unit.stage >= 0 and not unit.is_stage_end:
            s = stages[unit.stage]
            blocks.append(_seq(s.blocks[-1], s.exit))
        for s in stages[unit.stage + 1:]:
            blocks.append(_seq(s.entry, s.blocks[0], s.exit))
        if self.tail is not None:
            blocks.append(self.tail)
        return nn.Sequential(*[fresh_copy(b) for b in blocks])
