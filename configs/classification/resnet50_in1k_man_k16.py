# MAN on mmpretrain's ResNet-50 / ImageNet-1k: 16 local modules (the stem
# joins the first Bottleneck, then one module per block), SLM aux nets that
# share the real head. Everything else is mmpretrain's config.
_base_ = [
    'mmpretrain::resnet/resnet50_8xb32_in1k.py', '../_base_/man_mm_imports.py'
]

model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})

# mmpretrain's schedule writes train_cfg = dict(by_epoch=True, ...); a loop
# `type` cannot sit beside it, so the loop config is replaced whole, keeping
# the base's epochs and validation interval.
train_cfg = dict(
    _delete_=True,
    type='man_mm.LocalEpochBasedTrainLoop',
    max_epochs={{_base_.train_cfg.max_epochs}},
    val_interval={{_base_.train_cfg.val_interval}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
