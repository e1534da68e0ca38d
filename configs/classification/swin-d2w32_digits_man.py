# MAN on the small Swin of swin-d2w32_digits_bp.py: one local module per
# Swin block (8; the patch merging in front of a stage goes with its first
# block), SLM aux nets (per later stage: patch merging + one fresh Swin
# block, then a fresh final norm) sharing the real neck and head.
_base_ = './swin-d2w32_digits_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
