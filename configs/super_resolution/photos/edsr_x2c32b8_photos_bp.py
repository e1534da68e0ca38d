# The SR demo: a small EDSR (32 channels, 8 residual blocks, x2) trained end to
# end (BP) from scratch on the embedded photographs -- real images that ship
# with scikit-image, written by tools/dataset_converters/prepare_sr_photos.py
# (13 train / 4 val photographs, bicubic LR) -- for a fixed CPU budget,
# evaluated with mmagic's PSNR/SSIM (crop border = scale) as its DIV2K configs
# do. The recipe is the paper's (48x48 LR patches, Adam) at a smaller width,
# depth and batch, and a higher learning rate for the short budget.
_base_ = [
    '../../_base_/man_mm_imports.py',
    'mmagic::edsr/edsr_x2c64b16_1xb16-300k_div2k.py',
]
scale = 2
max_iters = 500
data_root = 'data/sr_photos'
work_dir = './work_dirs/edsr_x2c32b8_photos_bp'

model = dict(generator=dict(mid_channels=32, num_blocks=8))

val_pipeline = [
    dict(type='LoadImageFromFile', key='img', color_type='color',
         channel_order='rgb', imdecode_backend='cv2'),
    dict(type='LoadImageFromFile', key='gt', color_type='color',
         channel_order='rgb', imdecode_backend='cv2'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='BasicImageDataset',
        metainfo=dict(dataset_type='sr_photos', task_name='sisr'),
        data_root=data_root,
        data_prefix=dict(img='train/LRbicx2', gt='train/GTmod12'),
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=1,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BasicImageDataset',
        metainfo=dict(dataset_type='sr_photos', task_name='sisr'),
        data_root=data_root,
        data_prefix=dict(img='val/LRbicx2', gt='val/GTmod12'),
        pipeline=val_pipeline))
val_evaluator = dict(
    _delete_=True,
    type='Evaluator',
    metrics=[
        dict(type='PSNR', crop_border=scale),
        dict(type='SSIM', crop_border=scale),
    ])
# mmagic's MultiValLoop/MultiTestLoop (its Evaluator needs them) with one set.
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999)))
param_scheduler = dict(
    _delete_=True, type='CosineAnnealingLR', by_epoch=False, begin=0,
    end=max_iters, T_max=max_iters, eta_min=1e-6)
train_cfg = dict(
    type='man_mm.LocalIterBasedTrainLoop', max_iters=max_iters,
    val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters, out_dir=None, max_keep_ckpts=1,
                    save_best=None))
custom_hooks = []
randomness = dict(seed=0)
