# SRGAN on the SR demo: mmagic's SRGAN recipe (srgan_resnet/srgan_x4c64b16:
# an MSRResNet generator and a ModifiedVGG discriminator, each with its own
# Adam; L1 pixel loss x1e-2 plus the vanilla GAN loss x5e-3), shrunk to the
# EDSR demo's width, depth, data and budget (edsr_x2c32b8_photos_bp.py), x2,
# trained from scratch (mmagic starts SRGAN from a pretrained SRResNet).
# Two changes the demo needs: the VGG19 perceptual loss is off (its ImageNet
# weights would be downloaded), and the HR crops are 128x128, the size
# ModifiedVGG's classifier is built for.
_base_ = './edsr_x2c32b8_photos_bp.py'
scale = 2
work_dir = './work_dirs/srgan_x2c32b8_photos_bp'

model = dict(
    _delete_=True,
    type='SRGAN',
    generator=dict(
        type='MSRResNet', in_channels=3, out_channels=3, mid_channels=32,
        num_blocks=8, upscale_factor=scale),
    discriminator=dict(type='ModifiedVGG', in_channels=3, mid_channels=32),
    pixel_loss=dict(type='L1Loss', loss_weight=1e-2, reduction='mean'),
    gan_loss=dict(
        type='GANLoss', gan_type='vanilla', loss_weight=5e-3,
        real_label_val=1.0, fake_label_val=0),
    train_cfg=dict(),
    test_cfg=dict(),
    data_preprocessor=dict(
        type='DataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.]))

train_pipeline = [
    dict(type='LoadImageFromFile', key='img', color_type='color',
         channel_order='rgb', imdecode_backend='cv2'),
    dict(type='LoadImageFromFile', key='gt', color_type='color',
         channel_order='rgb', imdecode_backend='cv2'),
    dict(type='SetValues', dictionary=dict(scale=scale)),
    dict(type='PairedRandomCrop', gt_patch_size=128),
    dict(type='Flip', keys=['img', 'gt'], flip_ratio=0.5,
         direction='horizontal'),
    dict(type='Flip', keys=['img', 'gt'], flip_ratio=0.5,
         direction='vertical'),
    dict(type='RandomTransposeHW', keys=['img', 'gt'], transpose_ratio=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# One Adam per network, as mmagic's SRGAN configs (the demo's learning rate
# and cosine schedule, applied to both).
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    generator=dict(type='OptimWrapper',
                   optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999))),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.9, 0.999))))
