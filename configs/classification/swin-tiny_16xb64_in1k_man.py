# MAN on mmpretrain's Swin-T / ImageNet-1k: one local module per Swin block
# (12; the patch merging in front of a stage goes with its first block),
# SLM aux nets (per later stage: patch merging + one Swin block, then a fresh
# final norm) sharing the real neck and head. Everything else is
# mmpretrain's config (its clip_grad means one optimizer step per iteration,
# with the global gradient norm, as BP).
_base_ = './swin-tiny_16xb64_in1k_bp.py'
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
