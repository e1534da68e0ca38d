"""Unit splitters of mmagic's plain-body SR generators (MSRResNet, RRDBNet,
SwinIRNet) and the refusals of the U-shaped ones. RDN and SRCNN:
``test_sr_rdn.py``."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import MODELS

from man_mm.models import LocalLearningModel
from man_mm.models.splitters import build_units
from man_mm.models.task_adapters import EditTaskAdapter
from man_mm.testing import assert_gradient_isolated, fake_sr_batch
from tests.helpers import (activation_peaks, adam_wrapper, edit_model,
                           load_tool)


pytestmark = pytest.mark.usefixtures('mmagic_scope')


def _swinir(upsampler, scale):
    return dict(type='SwinIRNet', upscale=scale, in_chans=3, img_size=8,
                window_size=4, img_range=1.0, depths=[1, 1, 1, 1],
                embed_dim=8, num_heads=[2, 2, 2, 2], mlp_ratio=2,
                drop_path_rate=0.0, upsampler=upsampler,
                resi_connection='1conv')


#: name -> (generator config, scale, units)
GENERATORS = {
    'msrresnet_x2': (dict(type='MSRResNet', in_channels=3, out_channels=3,
                          mid_channels=8, num_blocks=4, upscale_factor=2),
                     2, 4),
    'msrresnet_x4': (dict(type='MSRResNet', in_channels=3, out_channels=3,
                          mid_channels=8, num_blocks=4, upscale_factor=4),
                     4, 4),
    'rrdbnet_x4': (dict(type='RRDBNet', in_channels=3, out_channels=3,
                        mid_channels=8, num_blocks=4, growth_channels=4,
                        upscale_factor=4), 4, 4),
    'rrdbnet_x2': (dict(type='RRDBNet', in_channels=3, out_channels=3,
                        mid_channels=8, num_blocks=4, growth_channels=4,
                        upscale_factor=2), 2, 4),
    'swinir_pixelshuffle': (_swinir('pixelshuffle', 2), 2, 4),
    'swinir_direct': (_swinir('pixelshuffledirect', 2), 2, 4),
    'swinir_nearest': (_swinir('nearest+conv', 4), 4, 4),
    'swinir_denoise': (_swinir('', 1), 1, 4),
}
#: The main cases (one per splitter) for the slower checks.
MAIN = ['msrresnet_x4', 'rrdbnet_x4', 'swinir_pixelshuffle',
        'swinir_denoise']


def _cfg(name):
    return edit_model(copy.deepcopy(GENERATORS[name][0]))


def _batch(name, n=2, seed=0, size=8):
    return fake_sr_batch(n, (3, size, size), GENERATORS[name][1], seed=seed)


@pytest.mark.parametrize('name, size', [(n, 8) for n in GENERATORS] + [
    ('swinir_pixelshuffle', 6),  # padded to the window size, then cropped
    ('swinir_denoise', 7)])
def test_units_and_tail_replay_the_generator(name, size):
    torch.manual_seed(0)
    model = MODELS.build(_cfg(name))
    gen = model.generator.eval()
    units = build_units(gen)
    assert len(units) == GENERATORS[name][2]
    task = EditTaskAdapter(model)
    seen = {}
    gen.conv_first.register_forward_hook(
        lambda m, i, o: seen.update(shallow=o, image=i[0]))
    x = torch.rand(1, 3, size, size)
    with torch.no_grad():
        expected = gen(x)
        h = x
        for u in units.units:
            h = u.module(h)
        heads = dict(zip(task.head_names, task.head_modules()))
        shallow = seen['shallow'] if task.required_taps else None
        out = task._tail(gen, heads, h, shallow, lambda: seen['image'],
                         SimpleNamespace(gt_img=expected))
    torch.testing.assert_close(out, expected)
    # Every generator parameter is a unit's or the tail's.
    owned = {id(p) for u in units.units for p in u.module.parameters()} | \
        {id(p) for m in task.head_modules() for p in m.parameters()}
    assert owned == {id(p) for p in gen.parameters()}


@pytest.mark.parametrize('share_head', [True, False])
@pytest.mark.parametrize('name', MAIN)
def test_train_step_and_gradient_isolation(name, share_head):
    torch.manual_seed(0)
    model = LocalLearningModel(
        _cfg(name), num_modules=3,
        aux=dict(type='man_mm.SLMSRAux', share_head=share_head))
    assert model.num_modules == 3
    assert all(len(a.blocks) == 1 for a in model.aux_heads)
    feature_skip = 'msrresnet' not in name
    assert (model.feature_bank.taps == ['generator.conv_first']) == \
        feature_skip
    assert_gradient_isolated(model, _batch(name), shared_head=share_head)
    out = model.train_step(_batch(name, seed=1), adam_wrapper(model))
    assert torch.isfinite(out['loss'])


@pytest.mark.parametrize('name', MAIN)
def test_adapt_false_trains(name):
    """Paper's "Adapt" off: no SLM block, no feature skip (MSRResNet's and
    SwinIR-denoise's image skip stay: they read no feature)."""
    model = LocalLearningModel(
        _cfg(name), num_modules=2,
        aux=dict(type='man_mm.SLMSRAux', adapt=False))
    assert len(model.aux_heads[0].blocks) == 0
    out = model.train_step(_batch(name), adam_wrapper(model))
    assert torch.isfinite(out['loss'])


@pytest.mark.parametrize('name', MAIN)
def test_k1_reproduces_bp(name):
    torch.manual_seed(0)
    bp = MODELS.build(_cfg(name))
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim, local_optim = adam_wrapper(bp), adam_wrapper(local)
    for step in range(3):
        batch = _batch(name, seed=step)
        bp.train_step(copy.deepcopy(batch), bp_optim)
        local.train_step(copy.deepcopy(batch), local_optim)
    for (pname, p), q in zip(bp.named_parameters(),
                             local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0, msg=pname)


@pytest.mark.parametrize('name', MAIN)
def test_local_peak_is_below_bp(name):
    peaks = activation_peaks(
        dict(bp=lambda: MODELS.build(_cfg(name)),
             local=lambda: LocalLearningModel(_cfg(name), num_modules=4)),
        _batch(name, n=4), lambda model: adam_wrapper(model, 0.0))
    assert peaks['local'] < peaks['bp'], (name, peaks)


@pytest.mark.parametrize('name', MAIN)
def test_stripped_checkpoint_predicts_like_the_local_model(name):
    strip_aux = load_tool('model_converters/strip_aux.py').strip_aux
    torch.manual_seed(0)
    local = LocalLearningModel(_cfg(name), num_modules=3)
    local.train_step(_batch(name), adam_wrapper(local, 0.01))
    state = strip_aux({'state_dict': local.state_dict(), 'meta': {}})
    plain = MODELS.build(_cfg(name))
    plain.load_state_dict(state['state_dict'], strict=True)
    local.eval()
    plain.eval()
    data = _batch(name, n=1, seed=3)
    with torch.no_grad():
        ours = local.test_step(copy.deepcopy(data))
        theirs = plain.test_step(copy.deepcopy(data))
    assert len(ours) == len(theirs) == 1
    torch.testing.assert_close(ours[0].output.pred_img.data,
                               theirs[0].output.pred_img.data)


@pytest.mark.parametrize('generator, reason', [
    (dict(type='Restormer', inp_channels=3, out_channels=3, dim=8,
          num_blocks=[1, 1, 1, 1], num_refinement_blocks=1,
          heads=[1, 1, 1, 1]), 'U-shaped'),
    (dict(type='NAFNet', img_channels=3, mid_channels=8, enc_blk_nums=[1],
          middle_blk_num=1, dec_blk_nums=[1]), 'U-shaped'),
    (dict(type='NAFNetLocal', img_channels=3, mid_channels=8,
          enc_blk_nums=[1], middle_blk_num=1, dec_blk_nums=[1],
          train_size=(1, 3, 16, 16)), 'U-shaped'),
])
def test_u_shaped_generators_are_refused_with_the_reason(
        generator, reason):
    from man_mm.models.splitters import SRGeneratorRefusal
    cfg = edit_model(generator)
    with pytest.raises(TypeError) as err:
        LocalLearningModel(cfg)
    msg = str(err.value)
    assert generator['type'] in msg and reason in msg
    assert 'cannot split generator' in msg
    # The coverage tool's reason, from the class alone.
    from mmagic.registry import MODELS as MMAGIC_MODELS
    cls = MMAGIC_MODELS.get(generator['type'])
    assert reason in SRGeneratorRefusal.refusal(cls, generator)
