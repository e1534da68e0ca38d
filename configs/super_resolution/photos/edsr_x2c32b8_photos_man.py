# MAN on the SR demo: K=8 (one local module per residual block), SLM aux nets
# with the global skip from the feature bank, shared tail.
_base_ = './edsr_x2c32b8_photos_bp.py'
work_dir = './work_dirs/edsr_x2c32b8_photos_man'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
