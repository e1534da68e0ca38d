# EDSR-baseline x2 (64 channels, 16 blocks) on DIV2K, trained end to end (BP).
# mmagic's own config; its recipe is the paper's (appendix A.4): 48x48 LR
# patches (PairedRandomCrop of 96x96 HR), batch 16, Adam lr 1e-4,
# 300k iterations. Validation on Set5, tests on Set5/Set14/DIV2K100, all read
# from mmagic's standard layout under data/ (README, "Data").
_base_ = [
    '../_base_/man_mm_imports.py',
    'mmagic::edsr/edsr_x2c64b16_1xb16-300k_div2k.py',
]
work_dir = './work_dirs/edsr_x2c64b16_div2k_bp'
# The man_mm loop only adds act_mem/mem_peak to the log (training is BP).
train_cfg = dict(type='man_mm.LocalIterBasedTrainLoop')
# Checkpoints in work_dir (mmagic's out_dir would put them in ./work_dirs/).
default_hooks = dict(checkpoint=dict(out_dir=None))
