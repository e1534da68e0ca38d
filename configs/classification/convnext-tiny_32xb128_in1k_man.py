# MAN on mmpretrain's ConvNeXt-T / ImageNet-1k: one local module per
# ConvNeXt block (18; a stage's downsample layer goes with its first block),
# SLM aux nets (per later stage: its downsample layer + one block, then a
# fresh final norm) sharing the real head. Everything else is mmpretrain's
# config.
_base_ = './convnext-tiny_32xb128_in1k_bp.py'
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
# mmpretrain's EMA hook, kept, plus the feature bank's.
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
    dict(type='man_mm.FeatureBankHook'),
]
