"""The lean-SLM switch: narrower inner width, same interfaces."""
import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

from man_mm.models import LocalLearningModel
from man_mm.models.splitters.narrow import narrow_block
from tests.helpers import det_batch, retinanet


def _numel(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('cfg, stage, index', [
    (dict(type='mmdet.ResNet', depth=18), 'layer2', 0),    # BasicBlock
    (dict(type='mmdet.ResNet', depth=50), 'layer3', 0),    # Bottleneck
    (dict(type='mmdet.ResNet', depth=50), 'layer3', 1),    # no shortcut
    (dict(type='ResNet', depth=50), 'layer2', 0),          # mmpretrain
    (dict(type='man_mm.CifarResNet', depth=20), 'layer3', 0),
])
def test_narrow_block_keeps_shapes_and_cuts_weights(cfg, stage, index):
    import man_mm.models  # noqa: F401
    block = getattr(MODELS.build(cfg), stage)[index]
    in_ch = [m for m in block.modules()
             if isinstance(m, torch.nn.Conv2d)][0].in_channels
    x = torch.randn(2, in_ch, 16, 16)
    lean = narrow_block(block, 0.5)
    assert lean(x).shape == block(x).shape
    assert _numel(lean) < 0.75 * _numel(block)
    assert all(p.requires_grad for p in lean.parameters())
    # A fresh block: no weight shared with (or copied from) the backbone.
    assert lean.conv1.weight.data_ptr() != block.conv1.weight.data_ptr()


def test_narrow_block_rejects_what_it_cannot_narrow():
    with pytest.raises(ValueError, match=r'width must be in \(0, 1\]'):
        narrow_block(torch.nn.Conv2d(3, 3, 1), 0)
    with pytest.raises(TypeError, match='BasicBlock and Bottleneck only'):
        narrow_block(torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1)), 0.5)


def test_lean_slm_detector_trains_with_fewer_aux_weights():
    init_default_scope('mmdet')
    models = {
        w: LocalLearningModel(retinanet(depth=18), num_modules=3,
                              aux=dict(type='man_mm.SLMDetAux', width=w))
        for w in (1.0, 0.5)
    }
    assert _numel(models[0.5].aux_heads) < 0.7 * _numel(models[1.0].aux_heads)
    model = models[0.5]
    optim = torch.optim.SGD(model.parameters(), lr=0.001)
    from mmengine.optim import OptimWrapper
    log = model.train_step(det_batch(), OptimWrapper(optim))
    assert torch.isfinite(log['loss'])
    # Base model and its checkpoint layout are untouched by the switch.
    assert set(models[0.5].model.state_dict()) == \
        set(models[1.0].model.state_dict())


def test_width_on_a_splitter_that_cannot_narrow_says_so():
    from man_mm.models.splitters import DarknetUnits
    init_default_scope('mmdet')
    units = DarknetUnits(MODELS.build(dict(type='mmdet.Darknet', depth=53)))
    with pytest.raises(ValueError, match=r'cannot \(ResNetUnits can\). '
                                         'Use width=1.0'):
        units.fresh_blocks_after(units.units[0], width=0.5)
