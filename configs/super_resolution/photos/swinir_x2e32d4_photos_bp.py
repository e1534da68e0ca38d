# SwinIR on the SR demo: mmagic's SwinIRNet (classical SR, pixel-shuffle
# upsampler) shrunk for a CPU budget -- 4 residual Swin transformer blocks
# (RSTB) of 2 layers, width 32, 2 heads, window 8 -- trained end to end (BP)
# from scratch with the EDSR demo's data, budget and metrics
# (edsr_x2c32b8_photos_bp.py: 500 iterations of 8 48x48 LR patches, x2).
_base_ = './edsr_x2c32b8_photos_bp.py'
work_dir = './work_dirs/swinir_x2e32d4_photos_bp'
model = dict(
    generator=dict(
        _delete_=True,
        type='SwinIRNet',
        upscale=2,
        in_chans=3,
        img_size=48,
        window_size=8,
        img_range=1.0,
        depths=[2, 2, 2, 2],
        embed_dim=32,
        num_heads=[2, 2, 2, 2],
        mlp_ratio=2,
        upsampler='pixelshuffle',
        resi_connection='1conv'))
