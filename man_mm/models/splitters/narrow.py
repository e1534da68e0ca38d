"""Narrow a residual block's inner width: the lean-SLM switch.

A ResNet block keeps its input and output widths (the neck, the feature
bank and the next block depend on them) but its inner convolutions can be
narrower. :func:`narrow_block` returns a fresh block of the same family
whose inner width is ``width`` times the original, so an SLM aux net built
from it has about ``width`` (1x1/3x3 convs touching the block's ends) to
``width**2`` (inner 3x3 convs) of the original weights, and proportionally
smaller inner activations.
"""
import copy
import math

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def _norm_attr(block: nn.Module, i: int) -> str:
    name = getattr(block, f'norm{i}_name', None)
    if name is None:
        raise TypeError(
            f'{type(block).__name__} has no norm{i}_name: narrow SLM blocks '
            'support mmdet/mmpretrain ResNet BasicBlock and Bottleneck only '
            '(use width=1.0 for other backbones).')
    return name


def _resized_conv(conv: nn.Module, in_ch: int, out_ch: int) -> nn.Conv2d:
    if type(conv) is not nn.Conv2d or conv.groups != 1:
        raise TypeError(
            f'cannot narrow {type(conv).__name__} (groups={conv.groups}): '
            'narrow SLM blocks need plain convolutions (no DCN, no grouped '
            'convs); use width=1.0.')
    return nn.Conv2d(in_ch, out_ch, conv.kernel_size, conv.stride,
                     conv.padding, conv.dilation, bias=conv.bias is not None,
                     padding_mode=conv.padding_mode)


def _resized_norm(norm: nn.Module, channels: int) -> nn.Module:
    if isinstance(norm, _BatchNorm):
        return type(norm)(channels, eps=norm.eps, momentum=norm.momentum,
                          affine=norm.affine,
                          track_running_stats=norm.track_running_stats)
    if isinstance(norm, nn.GroupNorm):
        groups = math.gcd(norm.num_groups, channels)
        return nn.GroupNorm(groups, channels, eps=norm.eps,
                            affine=norm.affine)
    raise TypeError(f'cannot narrow norm layer {type(norm).__name__}; use '
                    'width=1.0.')


def narrow_block(block: nn.Module, width: float) -> nn.Module:
    """A fresh copy of ``block`` with inner width ``width`` x the original.

    Args:
        block (nn.Module): An mmdet or mmpretrain ResNet ``BasicBlock`` or
            ``Bottleneck`` (conv1..convN with norm1..normN, N = 2 or 3).
        width (float): Inner width multiplier in ``(0, 1]``. Inner widths
            are rounded and kept at least 8 channels.

    Returns:
        nn.Module: The narrowed block, re-initialised, in train mode. Its
        input and output widths, stride and shortcut are the original's.

    Raises:
        TypeError: Blocks with plugins, DCN or grouped convs, or layers the
            narrowing does not know.
    """
    if not 0 < width <= 1:
        raise ValueError(f'SLM width must be in (0, 1], got {width}.')
    if getattr(block, 'with_plugins', False) or getattr(
            block, 'with_dcn', False):
        raise TypeError('narrow SLM blocks do not support plugins or DCN; '
                        'use width=1.0.')
    new = copy.deepcopy(block)
    convs = [getattr(new, f'conv{i}') for i in (1, 2, 3)
             if isinstance(getattr(new, f'conv{i}', None), nn.Module)]
    if len(convs) < 2:
        raise TypeError(f'{type(block).__name__} is not a ResNet block with '
                        'conv1..conv2/3; narrow SLM blocks support BasicBlock '
                        'and Bottleneck only (use width=1.0).')
    inner = max(8, round(convs[0].out_channels * width))
    n = len(convs)
    for i, conv in enumerate(convs, start=1):
        in_ch = conv.in_channels if i == 1 else inner
        out_ch = conv.out_channels if i == n else inner
        setattr(new, f'conv{i}', _resized_conv(conv, in_ch, out_ch))
        if i < n:
            name = _norm_attr(new, i)
            setattr(new, name, _resized_norm(getattr(new, name), inner))
    # Bookkeeping attributes some forwards or reprs read.
    for attr in ('planes', 'mid_channels'):
        if hasattr(new, attr):
            setattr(new, attr, inner)
    for m in new.modules():
        if hasattr(m, 'reset_parameters'):
            m.reset_parameters()
    for p in new.parameters():
        p.requires_grad_(True)
    return new.train()
