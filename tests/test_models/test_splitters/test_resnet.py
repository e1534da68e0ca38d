"""Splitting ResNets into units, and the SLM's fresh blocks."""
import pytest
import torch
from mmengine.registry import MODELS

from man_mm.models import ResNetUnits, fresh_copy


def _backbone(cfg):
    import man_mm.models  # noqa: F401
    return MODELS.build(cfg)


@pytest.mark.parametrize('cfg, n_units', [
    (dict(type='man_mm.CifarResNet', depth=32), 16),   # stem + 15 blocks
    (dict(type='man_mm.CifarResNet', depth=110), 55),
    (dict(type='ResNet', depth=18), 8),                # stem joins block 0
    (dict(type='ResNet', depth=34), 16),               # paper: K=16
    (dict(type='ResNet', depth=50), 16),               # paper: K=16
    (dict(type='ResNet', depth=101), 33),              # paper: K=33
    (dict(type='ResNet_CIFAR', depth=18), 9),
])
def test_unit_counts_match_the_paper(cfg, n_units):
    assert len(ResNetUnits(_backbone(cfg))) == n_units


def test_units_replay_the_backbone_forward():
    backbone = _backbone(dict(type='ResNet', depth=18))
    backbone.eval()  # mmpretrain's ResNet.train() returns None
    units = ResNetUnits(backbone)
    x = torch.randn(1, 3, 64, 64)
    y = x
    for u in units.units:
        y = u.module(y)
    torch.testing.assert_close(y, backbone(x)[-1])
    # Units are the backbone's own modules, not copies.
    assert units.units[1].module is backbone.layer1[1]


def test_stage_ends_are_marked():
    units = ResNetUnits(_backbone(dict(type='man_mm.CifarResNet', depth=20)))
    ends = [u.name for u in units.units if u.is_stage_end]
    assert ends == ['layer1.2', 'layer2.2', 'layer3.2']


@pytest.mark.parametrize('unit_index, expected_out', [
    (0, (64, 8, 8)),     # stem: one block per stage
    (1, (64, 8, 8)),     # inside stage 1: rest-of-stage + 2 later stages
    (3, (64, 8, 8)),     # end of stage 1: one block per later stage
    (9, (64, 8, 8)),     # last unit: nothing left
])
def test_fresh_blocks_finish_the_network(unit_index, expected_out):
    units = ResNetUnits(_backbone(dict(type='man_mm.CifarResNet', depth=20)))
    unit = units.units[unit_index]
    blocks = units.fresh_blocks_after(unit)
    remaining_stages = units.num_stages - max(unit.stage, 0) - 1
    rest_of_stage = unit.stage < 0 or not unit.is_stage_end
    assert len(blocks) == remaining_stages + int(rest_of_stage)
    x = torch.randn(2, 3, 32, 32)
    for u in units.units[:unit_index + 1]:
        x = u.module(x)
    assert blocks(x).shape[1:] == expected_out


def test_fresh_copy_has_new_trainable_weights():
    backbone = _backbone(dict(type='man_mm.CifarResNet', depth=20,
                              frozen_stages=1))
    block = backbone.layer1[0]
    copy = fresh_copy(block)
    assert all(p.requires_grad for p in copy.parameters())
    assert not any(p.requires_grad for p in block.parameters())
    assert not torch.equal(copy.conv1.weight, block.conv1.weight)
    assert copy.conv1.weight.data_ptr() != block.conv1.weight.data_ptr()
