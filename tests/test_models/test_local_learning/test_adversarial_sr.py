"""Adversarially trained restorers (mmagic's SRGAN, ESRGAN, Real-ESRGAN)
trained locally: K=1 is mmagic's own ``train_step``, each module's
``g_step`` loss stays in its module with the discriminator frozen, the
discriminator learns from its own step only, the local peak is below BP's,
and the stripped checkpoint is a plain mmagic model. The recurrent (DIC),
reference-based (TTSR), video (RealBasicVSR) and U-shaped (GLEAN) ones are
refused with the reason."""
import copy
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import MODELS

from man_mm.models import LocalLearningModel
from man_mm.models.task_adapters import (EditTaskAdapter, SRGANTaskAdapter,
                                         build_task_adapter)
from man_mm.testing import assert_gradient_isolated, fake_sr_batch
from tests.helpers import activation_peaks, load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


pytestmark = pytest.mark.usefixtures('mmagic_scope')


GENERATORS = {
    'msrresnet': dict(type='MSRResNet', in_channels=3, out_channels=3,
                      mid_channels=8, num_blocks=4, upscale_factor=2),
    'rrdbnet': dict(type='RRDBNet', in_channels=3, out_channels=3,
                    mid_channels=8, num_blocks=4, growth_channels=4,
                    upscale_factor=2),
}


def _cfg(kind='SRGAN', generator='msrresnet', **extra):
    """A small mmagic GAN restorer; ModifiedVGG judges 128x128 images."""
    cfg = dict(
        type=kind, generator=copy.deepcopy(GENERATORS[generator]),
        discriminator=dict(type='ModifiedVGG', in_channels=3,
                           mid_channels=4),
        pixel_loss=dict(type='L1Loss', loss_weight=1.0, reduction='mean'),
        gan_loss=dict(type='GANLoss', gan_type='vanilla', loss_weight=0.1,
                      real_label_val=1.0, fake_label_val=0),
        train_cfg=dict(), test_cfg=dict(),
        data_preprocessor=dict(type='DataPreprocessor', mean=[0., 0., 0.],
                               std=[255., 255., 255.]))
    if kind == 'RealESRGAN':
        cfg.update(is_use_sharpened_gt_in_pixel=True, is_use_ema=True)
    cfg.update(extra)
    return cfg


def _batch(kind='SRGAN', n=2, seed=0):
    batch = fake_sr_batch(n, (3, 64, 64), 2, seed=seed)
    if kind == 'RealESRGAN':  # its pipeline's UnsharpMasking output
        for s in batch['data_samples']:
            s.gt_unsharp = (s.gt_img * 1.1).clamp(0, 255)
    return batch


def _wrappers(model, lr=1e-3):
    """One Adam per network, as mmagic's configs; the generator's takes
    the aux nets too."""
    local = isinstance(model, LocalLearningModel)
    base = model.model if local else model
    g = list(base.generator.parameters()) + (
        list(model.aux_heads.parameters()) if local else [])
    wrappers = dict(generator=OptimWrapper(torch.optim.Adam(g, lr=lr)))
    if base.discriminator is not None:
        wrappers['discriminator'] = OptimWrapper(torch.optim.Adam(
            base.discriminator.parameters(), lr=lr))
    return OptimWrapperDict(**wrappers)


def _mmagic_class(name):
    from mmagic.registry import MODELS as MMAGIC_MODELS
    return MMAGIC_MODELS.get(name)


def test_adapter_takes_the_gan_restorers_and_refuses_the_rest_by_name():
    for name in ('SRGAN', 'ESRGAN', 'RealESRGAN'):
        cls = _mmagic_class(name)
        assert issubclass(cls, SRGANTaskAdapter.supported_types()), name
        assert not issubclass(cls, EditTaskAdapter.supported_types()), name
        assert type(build_task_adapter(MODELS.build(_cfg(name)))) is \
            SRGANTaskAdapter
    for name, why in [('DIC', 'recurrent feedback network'),
                      ('TTSR', 'reference-based SR'),
                      ('RealBasicVSR', 'video SR')]:
        cls = _mmagic_class(name)
        assert not issubclass(cls, SRGANTaskAdapter.supported_types())
        assert why in SRGANTaskAdapter.refusal(cls)
        with pytest.raises(TypeError, match=f'cannot train {name} locally'
                           ) as err:
            build_task_adapter(cls.__new__(cls))
        assert why in str(err.value)
    # GLEAN is an SRGAN whose generator is refused by its splitter.
    from man_mm.models.splitters import SRGeneratorRefusal
    glean = _mmagic_class('GLEANStyleGANv2')
    assert 'U-shaped' in SRGeneratorRefusal.refusal(glean, {})


@pytest.mark.parametrize('kind, generator, train_cfg', [
    ('SRGAN', 'msrresnet', dict()),
    # The discriminator trains alone for the first iteration.
    ('SRGAN', 'rrdbnet', dict(disc_init_steps=1)),
    ('ESRGAN', 'rrdbnet', dict()),
    ('RealESRGAN', 'msrresnet', dict()),
])
def test_k1_reproduces_mmagics_train_step(kind, generator, train_cfg):
    torch.manual_seed(0)
    bp = MODELS.build(_cfg(kind, generator, train_cfg=train_cfg))
    local = LocalLearningModel(copy.deepcopy(bp), num_modules=1)
    bp_optim, local_optim = _wrappers(bp), _wrappers(local)
    for step in range(3):
        batch = _batch(kind, seed=step)
        theirs = bp.train_step(copy.deepcopy(batch), bp_optim)
        ours = local.train_step(copy.deepcopy(batch), local_optim)
        assert set(theirs) - {'loss'} <= set(ours), (theirs, ours)
        for key in ('loss_d_real', 'loss_d_fake', 'loss_pix', 'loss_gan'):
            if key in theirs:
                torch.testing.assert_close(ours[key], theirs[key],
                                           atol=1e-5, rtol=0)
    assert int(local.model.step_counter) == int(bp.step_counter) == 3
    for (name, p), q in zip(bp.named_parameters(),
                            local.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0, msg=name)


@pytest.mark.parametrize('generator', list(GENERATORS))
def test_module_losses_stay_in_their_module(generator):
    """Each module's g_step loss -- pixel and GAN loss through the
    discriminator, frozen as in the generator step -- reaches its own units
    and aux net (and the shared tail) only."""
    torch.manual_seed(0)
    model = LocalLearningModel(_cfg('SRGAN', generator), num_modules=3)
    for p in model.model.discriminator.parameters():
        p.requires_grad = False
    assert_gradient_isolated(model, _batch(), shared_head=True)


def test_discriminator_learns_from_its_own_step_only():
    torch.manual_seed(0)
    model = LocalLearningModel(_cfg(), num_modules=3)
    base = model.model
    d_before = copy.deepcopy(base.discriminator.state_dict())
    aux_before = copy.deepcopy(model.aux_heads.state_dict())
    seen = {}
    d_step = base.d_step_with_optim

    def spy(outputs, gt, optim_wrapper):
        # After the K local generator steps, before the D step.
        seen['d_grads'] = [p.grad for p in base.discriminator.parameters()]
        seen['requires_grad'] = [p.requires_grad
                                 for p in base.discriminator.parameters()]
        seen['fake'] = outputs
        return d_step(outputs, gt, optim_wrapper)

    base.d_step_with_optim = spy
    out = model.train_step(_batch(), _wrappers(model))
    assert all(g is None for g in seen['d_grads'])
    assert all(seen['requires_grad'])
    assert not seen['fake'].requires_grad and seen['fake'].shape[-1] == 128
    assert {'loss', 'loss_pix', 'loss_gan', 'loss_aux', 'loss_d_real',
            'loss_d_fake'} <= set(out)
    # The discriminator and the aux nets both moved.
    assert any(not torch.equal(v, base.discriminator.state_dict()[k])
               for k, v in d_before.items())
    assert any(not torch.equal(v, model.aux_heads.state_dict()[k])
               for k, v in aux_before.items())


def test_a_generator_optimizer_without_the_aux_nets_is_named():
    model = LocalLearningModel(_cfg(), num_modules=3)
    base = model.model
    optim = OptimWrapperDict(
        generator=OptimWrapper(torch.optim.Adam(base.generator.parameters())),
        discriminator=OptimWrapper(torch.optim.Adam(
            base.discriminator.parameters())))
    with pytest.raises(ValueError, match=r"aux_heads\..*modules="):
        model.train_step(_batch(), optim)


def test_wrong_optimizer_setups_are_named():
    """One optimizer for both networks would let every module's GAN loss
    train the discriminator; a missing discriminator optimizer would fail
    inside mmagic after the generator stepped."""
    model = LocalLearningModel(_cfg(), num_modules=3)
    single = OptimWrapper(torch.optim.Adam(model.parameters()))
    with pytest.raises(TypeError, match='one optimizer per network'):
        model.train_step(_batch(), single)
    generator_only = OptimWrapperDict(
        generator=_wrappers(model)['generator'])
    with pytest.raises(KeyError, match=r"\['discriminator'\] missing"):
        model.train_step(_batch(), generator_only)
    # Real-ESRNet: no discriminator, so the generator's alone is right.
    net = LocalLearningModel(_cfg('RealESRGAN', discriminator=None,
                                  gan_loss=None), num_modules=3)
    out = net.train_step(_batch('RealESRGAN'), _wrappers(net))
    assert 'loss_d_fake' not in out and torch.isfinite(out['loss'])


def test_train_checks_that_each_optimizer_names_its_modules():
    """mmagic's constructor finds no ``generator`` on the wrapper: without
    ``modules`` it would build an optimizer with no parameters."""
    from mmengine.config import Config

    from man_mm.engine.config_checks import check_optim_wrapper
    path = osp.join(ROOT, 'configs/super_resolution/photos/'
                    'srgan_x2c32b8_photos_man.py')
    cfg = Config.fromfile(path)
    check_optim_wrapper(cfg)  # the demo names them
    del cfg.optim_wrapper.discriminator['modules']
    with pytest.raises(ValueError, match=r"\['discriminator'\].*modules="):
        check_optim_wrapper(cfg)
    bp = Config.fromfile(path.replace('_man.py', '_bp.py'))
    check_optim_wrapper(bp)  # the plain SRGAN needs none


def test_local_peak_is_below_bp():
    cfg = _cfg(generator='rrdbnet')
    peaks = activation_peaks(
        dict(bp=lambda: MODELS.build(cfg),
             local=lambda: LocalLearningModel(cfg, num_modules=4)),
        _batch(n=2), lambda model: _wrappers(model, 0.0))
    assert peaks['local'] < peaks['bp'], peaks


@pytest.mark.parametrize('kind', ['SRGAN', 'RealESRGAN'])
def test_stripped_checkpoint_predicts_like_the_local_model(kind):
    """Real-ESRGAN predicts with its EMA generator: also in the stripped
    checkpoint."""
    strip_aux = load_tool('model_converters/strip_aux.py').strip_aux
    torch.manual_seed(0)
    local = LocalLearningModel(_cfg(kind), num_modules=3)
    local.train_step(_batch(kind), _wrappers(local, 0.01))
    if kind == 'RealESRGAN':  # as its EMA hook would, somewhat
        with torch.no_grad():
            for p in local.model.generator_ema.parameters():
                p.mul_(0.9)
    state = strip_aux({'state_dict': local.state_dict(), 'meta': {}})
    plain = MODELS.build(_cfg(kind))
    plain.load_state_dict(state['state_dict'], strict=True)
    local.eval()
    plain.eval()
    data = fake_sr_batch(1, (3, 16, 16), 2, seed=3)
    with torch.no_grad():
        ours = local.test_step(copy.deepcopy(data))
        theirs = plain.test_step(copy.deepcopy(data))
        x = plain.data_preprocessor(copy.deepcopy(data))['inputs']
        used = plain.forward_tensor(x)
        trained = plain.generator(x)
    torch.testing.assert_close(ours[0].output.pred_img.data,
                               theirs[0].output.pred_img.data)
    # Real-ESRGAN predicts with the EMA generator, kept in the checkpoint.
    if kind == 'RealESRGAN':
        torch.testing.assert_close(used, plain.generator_ema(x))
        assert not torch.allclose(used, trained, atol=1e-3)
    else:
        torch.testing.assert_close(used, trained)


def test_mmagic_ema_hook_finds_the_generators_on_the_local_model():
    """mmagic's ExponentialMovingAverageHook looks up ``generator`` and
    ``generator_ema`` on the trained model by name."""
    from mmagic.engine.hooks import ExponentialMovingAverageHook
    torch.manual_seed(0)
    local = LocalLearningModel(_cfg('RealESRGAN'), num_modules=3)
    assert local.generator is local.model.generator
    assert local.generator_ema is local.model.generator_ema
    with pytest.raises(AttributeError):
        local.no_such_part  # noqa: B018  (only the listed parts forward)
    hook = ExponentialMovingAverageHook(
        module_keys=('generator_ema', ), interval=1,
        interp_cfg=dict(momentum=0.5))
    runner = SimpleNamespace(model=local, iter=0)
    hook.before_run(runner)
    local.train_step(_batch('RealESRGAN'), _wrappers(local, 0.01))
    ema_before = [p.detach().clone()
                  for p in local.model.generator_ema.parameters()]
    hook.after_train_iter(runner, 0)
    for old, ema, gen in zip(ema_before,
                             local.model.generator_ema.parameters(),
                             local.model.generator.parameters()):
        torch.testing.assert_close(ema, 0.5 * old + 0.5 * gen)


def test_the_demo_configs_build_their_optimizers_with_mmagic(tmp_path):
    """The photos demo's MAN config, as the Runner builds it: mmagic's
    MultiOptimWrapperConstructor puts the aux nets in the generator's
    optimizer, and one iteration trains."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    path = osp.join(ROOT, 'configs/super_resolution/photos/'
                    'srgan_x2c32b8_photos_man.py')
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path)
    cfg.launcher = 'none'
    runner = Runner.from_cfg(cfg)
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    model = runner.model
    assert model.num_modules == 4
    g_params = {id(p) for g in optim['generator'].param_groups
                for p in g['params']}
    d_params = {id(p) for g in optim['discriminator'].param_groups
                for p in g['params']}
    assert {id(p) for p in model.aux_heads.parameters()} <= g_params
    assert {id(p) for p in model.model.generator.parameters()} <= g_params
    assert d_params == {id(p) for p in
                        model.model.discriminator.parameters()}
    out = model.train_step(_batch(n=1), optim)
    assert torch.isfinite(out['loss']) and torch.isfinite(out['loss_d_fake'])
