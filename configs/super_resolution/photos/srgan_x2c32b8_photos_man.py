# MAN on the SRGAN demo: the generator's 8 residual blocks are cut into K=4
# local modules of 2 blocks, as in the SwinIR and RDN demos (each module's
# loss runs the discriminator once more per iteration). Every aux net -- one
# fresh residual block, then the shared upsampling tail and the image skip --
# is trained with SRGAN's own generator losses: the pixel loss and the GAN
# loss through the frozen discriminator. The discriminator is trained on the
# real generator output, as in SRGAN's own step.
_base_ = './srgan_x2c32b8_photos_bp.py'
work_dir = './work_dirs/srgan_x2c32b8_photos_man'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}},
    num_modules=4)
# The aux nets are no part of the base model: the generator's optimizer
# takes them too (modules are matched by name on the LocalLearningModel).
optim_wrapper = dict(
    generator=dict(modules=['model.generator', 'aux_heads']),
    discriminator=dict(modules='model.discriminator'))
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
