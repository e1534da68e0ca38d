# EDSR x2 (the full model: 256 channels, 32 blocks, residual scaling 0.1) on
# DIV2K, trained end to end, with mmagic's EDSR-baseline recipe (the paper's).
_base_ = './edsr_x2c64b16_div2k_bp.py'
work_dir = './work_dirs/edsr_x2c256b32_div2k_bp'
model = dict(
    generator=dict(mid_channels=256, num_blocks=32, res_scale=0.1))
