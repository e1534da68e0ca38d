# MAN on the full EDSR x2: K=32, one local module per residual block.
_base_ = './edsr_x2c256b32_div2k_bp.py'
work_dir = './work_dirs/edsr_x2c256b32_div2k_man'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [
    dict(type='man_mm.FeatureBankHook'),
    dict(type='BasicVisualizationHook', interval=1),
]
