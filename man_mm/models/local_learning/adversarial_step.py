"""One local-learning iteration of an adversarially trained restorer.

mmagic's ``SRGAN.train_step`` (and ``ESRGAN``'s, ``RealESRGAN``'s), with
the generator step done locally: the K local modules of the generator each
take their local backward of the model's ``g_step`` losses (the
discriminator frozen), then the discriminator takes the model's own
``d_step_with_optim`` on the real generator output. The schedule --
``disc_steps``, ``disc_init_steps``, ``disc_repeat``, ``step_counter`` --
is the model's.
"""
from typing import Dict

import torch
import torch.distributed as dist
from mmengine.optim import OptimWrapperDict


def check_adversarial_setup(model, optim_wrapper: OptimWrapperDict) -> None:
    """Raise a clear error when ``optim_wrapper`` cannot train ``model``.

    Args:
        model (LocalLearningModel): The model (over an ``SRGAN``).
        optim_wrapper (OptimWrapperDict): Its optimizer wrappers.

    Raises:
        RuntimeError: The run is distributed, which this step does not
            synchronise.
        KeyError: No ``'generator'`` wrapper, or no ``'discriminator'``
            one for a model with a discriminator.
        ValueError: The generator's wrapper lacks aux-net parameters (they
            are not the base model's, so mmagic's configs do not name
            them).
    """
    if dist.is_available() and dist.is_initialized() and \
            dist.get_world_size() > 1:
        raise RuntimeError(
            'adversarial local training (SRGAN, ESRGAN, Real-ESRGAN) runs '
            'in one process: its generator and discriminator gradients are '
            f'not synchronised across the {dist.get_world_size()} '
            'processes of this run. Train with tools/train.py, without a '
            'launcher.')
    wanted = ['generator'] + (['discriminator'] if model.model.if_run_d()
                              else [])
    missing = [k for k in wanted if k not in optim_wrapper.optim_wrappers]
    if missing:
        raise KeyError(
            f'adversarial local training needs optim_wrapper {wanted}; '
            f'{missing} missing (got '
            f'{sorted(optim_wrapper.optim_wrappers)}).')
    owned = {id(p) for group in optim_wrapper['generator'].param_groups
             for p in group['params']}
    missing = [name for name, p in model.aux_heads.named_parameters()
               if p.requires_grad and id(p) not in owned]
    if missing:
        raise ValueError(
            f'optim_wrapper["generator"] does not hold the aux nets\' '
            f'parameters ({len(missing)}, e.g. aux_heads.{missing[0]}), so '
            'they would never train. With mmagic\'s '
            "MultiOptimWrapperConstructor, name the modules: optim_wrapper="
            "dict(generator=dict(modules=['model.generator', 'aux_heads'], "
            "...), discriminator=dict(modules='model.discriminator', ...)) "
            '(configs/super_resolution/photos/srgan_x2c32b8_photos_man.py '
            'does).')


def adversarial_train_step(model, inputs: torch.Tensor, data_samples,
                           optim_wrapper: OptimWrapperDict
                           ) -> Dict[str, torch.Tensor]:
    """A GAN iteration of ``model`` (a ``LocalLearningModel`` over an
    ``SRGAN``): local generator steps, then the discriminator's.

    Args:
        model (LocalLearningModel): The model; ``model.task`` is an
            :class:`~man_mm.models.task_adapters.SRGANTaskAdapter`.
        inputs (Tensor): The preprocessed batch.
        data_samples: Its stacked data sample.
        optim_wrapper (OptimWrapperDict): ``'generator'`` (the generator and
            the aux nets) and ``'discriminator'`` wrappers.

    Returns:
        dict: Log variables: the generator's (``loss`` of the real output,
        its ``loss_pix``/``loss_gan``/..., ``loss_aux``) when it stepped,
        and the discriminator's ``loss_d_real``/``loss_d_fake``.
    """
    from mmagic.models.utils import set_requires_grad
    base = model.model
    g_wrapper = optim_wrapper['generator']
    log_vars = {}
    if base.if_run_g():
        set_requires_grad(base.discriminator, False)
        log_vars.update(
            model.local_train_step(inputs, data_samples, g_wrapper))
        fake = model.task.pop_output()
    else:
        # Before disc_init_steps only the discriminator trains: the
        # generator output needs no graph.
        with g_wrapper.optim_context(base), torch.no_grad():
            fake = base.forward_train(inputs, data_samples)
    if base.if_run_d():
        set_requires_grad(base.discriminator, True)
        gt = base.extract_gt_data(data_samples)
        for _ in range(base.disc_repeat):
            log_d = base.d_step_with_optim(fake.detach(), gt, optim_wrapper)
        log_d.pop('loss', None)  # 'loss' stays the generator's
        log_vars.update(log_d)
    base.step_counter += 1
    return log_vars
