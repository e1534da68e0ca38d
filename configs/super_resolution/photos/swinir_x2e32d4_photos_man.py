# MAN on the SwinIR demo: one local module per RSTB (K=4), SLM aux nets
# (one fresh RSTB, the body's norm and conv, the global skip from the feature
# bank's shallow feature), shared reconstruction tail.
_base_ = './swinir_x2e32d4_photos_bp.py'
work_dir = './work_dirs/swinir_x2e32d4_photos_man'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
