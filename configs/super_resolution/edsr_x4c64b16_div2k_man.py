# MAN on EDSR-baseline x4: K=16 (one local module per residual block; input
# normalisation and conv_first go with the first), SLM aux nets (one fresh
# residual block, then the generator's own tail with the global skip from the
# feature bank, and the L1 pixel loss), shared tail.
_base_ = './edsr_x4c64b16_div2k_bp.py'
work_dir = './work_dirs/edsr_x4c64b16_div2k_man'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [
    dict(type='man_mm.FeatureBankHook'),
    dict(type='BasicVisualizationHook', interval=1),
]
# x4 starts from the MAN x2 model (appendix A.4).
load_from = './work_dirs/edsr_x2c64b16_div2k_man/iter_300000.pth'
