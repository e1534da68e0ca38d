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
train_cfg = dict(type='man_mm.LocalEpochBasedTrainLoop')
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
