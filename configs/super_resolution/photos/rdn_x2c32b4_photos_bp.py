# RDN on the SR demo: mmagic's RDNNet (residual dense blocks whose outputs
# are all fused by the global feature fusion) shrunk for a CPU budget -- 32
# channels, 4 blocks of 4 dense layers with growth 16 -- trained end to end
# (BP) from scratch with the EDSR demo's data, budget and metrics
# (edsr_x2c32b8_photos_bp.py: 500 iterations of 8 48x48 LR patches, x2).
_base_ = './edsr_x2c32b8_photos_bp.py'
work_dir = './work_dirs/rdn_x2c32b4_photos_bp'
model = dict(
    generator=dict(
        _delete_=True,
        type='RDNNet',
        in_channels=3,
        out_channels=3,
        mid_channels=32,
        num_blocks=4,
        num_layers=4,
        channel_growth=16,
        upscale_factor=2))
