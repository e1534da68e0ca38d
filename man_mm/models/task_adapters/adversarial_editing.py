"""Task adapter for mmagic's adversarially trained restorers (SRGAN family).

``SRGAN``, ``ESRGAN`` and ``RealESRGAN`` (also Real-ESRNet: a
``RealESRGAN`` without discriminator) train their generator with the
model's own ``g_step`` losses -- pixel, perceptual and the generator's GAN
loss through a frozen discriminator -- and then the discriminator on the
generator's detached output (``d_step_with_optim``), each with its own
optimizer (``optim_wrapper['generator']``/``['discriminator']``).

Under local learning the generator is cut as for plain training
(:class:`~.editing.EditTaskAdapter`: the same splitters, tails and feature
bank), and the task loss of every local module is the model's own
``g_step`` on the image its aux net (or, for the last module, the real
tail) reconstructs: each module learns to make images that the
discriminator takes for real, as the whole generator does in BP. The
discriminator step is the model's own, on the real generator output of the
iteration. :func:`man_mm.models.local_learning.adversarial_train_step` runs
the iteration.
"""
from typing import Dict, Optional

import torch

from man_mm.registry import TASK_ADAPTERS
from man_mm.utils import optional_types
from .base import types_except
from .editing import EditTaskAdapter

#: ``SRGAN`` subclasses refused by name (with their subclasses).
REFUSED_ADVERSARIAL = {
    'DIC': ('a recurrent feedback network: DICNet runs one feedback block, '
            'with the same weights, num_steps times, each step reading the '
            "previous step's hidden state and the facial-landmark heatmaps "
            'an hourglass (U-shaped) computes from its output, and DIC '
            'trains on every step\'s output with its own train_step; there '
            'is no chain of distinct units to cut'),
    'TTSR': ('reference-based SR, not single-image: the generator reads '
             'textures that a transformer transfers from a second, reference '
             'image at three scales into its trunk'),
    'RealBasicVSR': ('video SR: a recurrent network propagates features '
                     'across the frames of a clip'),
}


@TASK_ADAPTERS.register_module()
class SRGANTaskAdapter(EditTaskAdapter):
    """mmagic ``SRGAN``, ``ESRGAN``, ``RealESRGAN`` with a split generator.

    Everything about the generator is :class:`EditTaskAdapter`'s; the task
    loss is the base model's ``g_step`` on the reconstructed image (its
    ``extract_gt_data`` gives the targets: Real-ESRGAN's sharpened ground
    truth where its config asks for it). The discriminator, frozen in the
    generator steps as in ``SRGAN.train_step``, is shared by every module's
    loss. The last module's image is kept, detached, for the
    discriminator step (:meth:`pop_output`).
    """
    supported_names = ('mmagic SRGAN, ESRGAN, RealESRGAN (adversarial '
                       'training) with a generator EditTaskAdapter splits')
    refused = REFUSED_ADVERSARIAL
    #: Base-model parts that mmagic's ``ExponentialMovingAverageHook``
    #: looks up on the trained model by attribute (``generator``,
    #: ``generator_ema``); ``LocalLearningModel`` forwards them.
    model_attributes = ('generator', 'generator_ema', 'discriminator')

    @classmethod
    def supported_types(cls):
        return types_except(
            optional_types('mmagic.models.editors.srgan', 'SRGAN'),
            REFUSED_ADVERSARIAL)

    def __init__(self, model):
        super().__init__(model)
        self._output: Optional[torch.Tensor] = None

    def loss(self, feats, data_samples, heads=None, bank=None,
             global_skip: bool = True) -> Dict[str, torch.Tensor]:
        """The base model's ``g_step`` losses of the reconstructed image.

        Args:
            feats (Tensor): Body features (a local module's output, or its
                aux's SLM block output).
            data_samples (DataSample): The stacked mmagic data sample.
            heads (list[nn.Module], optional): The tail modules to run;
                the generator's own by default (the last module).
            bank (FeatureBank, optional): Source of the shallow feature.
            global_skip (bool): Add the shallow feature (EDSR-style global
                residual). Defaults to True.

        Returns:
            dict[str, Tensor]: ``loss_pix``, ``loss_perceptual``,
            ``loss_style``, ``loss_gan``: those the model's config defines.
        """
        out = self.reconstruct(feats, data_samples, heads, bank, global_skip)
        if heads is None:  # the real generator output, for the D step
            self._output = out.detach()
        return self.model.g_step(out,
                                 self.model.extract_gt_data(data_samples))

    def pop_output(self) -> torch.Tensor:
        """The generator output of this iteration's last module, once.

        Returns:
            Tensor: The image, detached.

        Raises:
            RuntimeError: The last module has not run since the previous
                call.
        """
        out, self._output = self._output, None
        if out is None:
            raise RuntimeError('no generator output: the last local module '
                               'did not run in this iteration.')
        return out
