# MAN on the small ConvNeXt of convnext-d2w32_digits_bp.py: one local module
# per ConvNeXt block (8; a stage's downsampling goes with its first block),
# SLM aux nets (per later stage: downsampling + one fresh block, then a
# fresh final norm) sharing the real head.
_base_ = './convnext-d2w32_digits_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
