"""MAN on mmagic's LIIF (local implicit image function): the EDSR and RDN
encoders cut into units, the implicit query (``imnet``) as the task head.

Checked as the other generators are (``test_sr_generators.py``,
``test_sr_rdn.py``): the units and the tail replay the generator exactly,
gradient isolation, K=1 is BP, the local peak is below BP's, and the
checkpoint stripped of aux nets predicts as the local model.
"""
import copy

import pytest
import torch
from mmengine.registry import MODELS

from man_mm.models import LocalLearningModel
from man_mm.models.splitters import (LIIFEDSRNetUnits, LIIFRDNNetUnits,
                                     build_units)
from man_mm.models.task_adapters import EditTaskAdapter
from man_mm.testing import assert_gradient_isolated, fake_liif_batch
from tests.helpers import activation_peaks, adam_wrapper, load_tool

ENCODERS = {
    'edsr': dict(type='LIIFEDSRNet',
                 encoder=dict(type='EDSRNet', in_channels=3, out_channels=3,
                              mid_channels=8, num_blocks=4)),
    'rdn': dict(type='LIIFRDNNet',
                encoder=dict(type='RDNNet', in_channels=3, out_channels=3,
                              mid_channels=8, num_blocks=4, upscale_factor=2,
                              num_layers=2, channel_growth=4)),
}
SPLITTERS = {'edsr': LIIFEDSRNetUnits, 'rdn': LIIFRDNNetUnits}


pytestmark = pytest.mark.usefixtures('mmagic_scope')


def liif(name):
    """mmagic's LIIF config (``liif-*-norm_c64b16``), shrunk."""
    return dict(
        type='LIIF',
        generator=dict(
            ENCODERS[name],
            imnet=dict(type='MLPRefiner', in_dim=8, out_dim=3,
                       hidden_list=[16, 16]),
            local_ensemble=True, feat_unfold=True, cell_decode=True,
            eval_bsize=None),
        pixel_loss=dict(type='L1Loss', loss_weight=1.0, reduction='mean'),
        data_preprocessor=dict(
            type='DataPreprocessor',
            mean=[0.4488 * 255, 0.4371 * 255, 0.4040 * 255],
            std=[255., 255., 255.]))


def batch(n=2, seed=0, lr_size=8, queries=64):
    return fake_liif_batch(n, lr_size, 2, queries, seed=seed)


@pytest.mark.parametrize('name', list(ENCODERS))
def test_units_and_tail_replay_the_generator(name):
    torch.manual_seed(0)
    model = MODELS.build(liif(name))
    gen = model.generator.eval()
    units = build_units(gen)
    assert isinstance(units, SPLITTERS[name]) and len(units) == 4
    task = EditTaskAdapter(model)
    data = model.data_preprocessor(batch(queries=20), False)
    samples = data['data_samples']
    coord = torch.stack(samples.metainfo['coord'])
    cell = torch.stack(samples.metainfo['cell'])
    seen, outs = {}, []
    shallow = gen.conv_first if name == 'edsr' else gen.sfe1
    shallow.register_forward_hook(lambda m, i, o: seen.update(shallow=o))
    with torch.no_grad():
        expected = gen(data['inputs'], coord, cell)
        h = data['inputs']
        for u in units.units:
            h = u.module(h)
            outs.append(h)
        heads = dict(zip(task.head_names, task.head_modules()))
        feats = outs if name == 'rdn' else h
        out = task._tail(gen, heads, feats, seen['shallow'], None, samples)
    torch.testing.assert_close(out, expected)
    owned = {id(p) for u in units.units for p in u.module.parameters()} | \
        {id(p) for m in task.head_modules() for p in m.parameters()}
    assert owned == {id(p) for p in gen.parameters()}


@pytest.mark.parametrize('share_head', [True, False])
@pytest.mark.parametrize('name', list(ENCODERS))
def test_gradient_isolation(name, share_head):
    torch.manual_seed(0)
    model = LocalLearningModel(
        liif(name), num_modules=3,
        aux=dict(type='man_mm.SLMSRAux', share_head=share_head))
    assert model.num_modules == 3
    assert all(len(a.blocks) == 1 for a in model.aux_heads)
    assert_gradient_isolated(model, batch(), shared_head=share_head)
    out = model.train_step(batch(seed=1), adam_wrapper(model))
    assert torch.isfinite(out['loss'])


@pytest.mark.parametrize('name', list(ENCODERS))
def test_k1_reproduces_bp(name):
    torch.manual_seed(0)
    bp = MODELS.build(liif(name))
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim, local_optim = adam_wrapper(bp), adam_wrapper(local)
    for step in range(3):
        data = batch(seed=step)
        bp_log = bp.train_step(copy.deepcopy(data), bp_optim)
        local_log = local.train_step(copy.deepcopy(data), local_optim)
        torch.testing.assert_close(bp_log['loss'], local_log['loss'])
    for (pname, p), q in zip(bp.named_parameters(),
                             local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0, msg=pname)


@pytest.mark.parametrize('name', list(ENCODERS))
def test_local_peak_is_below_bp(name):
    peaks = activation_peaks(
        dict(bp=lambda: MODELS.build(liif(name)),
             local=lambda: LocalLearningModel(liif(name), num_modules=4)),
        batch(n=4, lr_size=16, queries=256),
        lambda model: adam_wrapper(model, 0.0))
    assert peaks['local'] < peaks['bp'], (name, peaks)


@pytest.mark.parametrize('name', list(ENCODERS))
def test_stripped_checkpoint_predicts_like_the_local_model(name):
    strip_aux = load_tool('model_converters/strip_aux.py').strip_aux
    torch.manual_seed(0)
    local = LocalLearningModel(liif(name), num_modules=3)
    local.train_step(batch(), adam_wrapper(local, 0.01))
    state = strip_aux({'state_dict': local.state_dict(), 'meta': {}})
    plain = MODELS.build(liif(name))
    plain.load_state_dict(state['state_dict'], strict=True)
    local.eval()
    plain.eval()
    data = batch(n=1, seed=3, queries=None)  # the whole HR grid
    with torch.no_grad():
        ours = local.test_step(copy.deepcopy(data))
        theirs = plain.test_step(copy.deepcopy(data))
    assert ours[0].output.pred_img.shape == (3, 16, 16)
    torch.testing.assert_close(ours[0].output.pred_img.data,
                               theirs[0].output.pred_img.data)


def test_benchmark_tools_make_liif_batches():
    """``benchmark_local.py``/``plan_local.py`` feed LIIF sampled-pixel
    batches (an image batch has no coordinates to query)."""
    from man_mm.analysis import make_batches, task_of
    base = liif('rdn')
    data = make_batches(task_of(base), base, (12, 12), 2)(0)
    sample = data['data_samples'][0]
    assert sample.gt_img.shape == (2304, 3)
    assert sample.metainfo['coord'].shape == (2304, 2)
    model = LocalLearningModel(base, num_modules=4)
    assert torch.isfinite(model.train_step(data, adam_wrapper(model))['loss'])
