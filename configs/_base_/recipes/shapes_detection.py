# The shapes demo's data and schedule as one value, ``shapes``, so that a
# config inheriting a *full* mmdet config (RTMDet, YOLOv3, DINO: mmengine
# refuses two bases that define the same keys) can take them, e.g.
# ``train_dataloader = {{_base_.shapes.train_dataloader}}``.
# ``datasets/shapes_coco_detection.py`` and the RetinaNet demo read it too.
#
# Data: the SYNTHETIC shapes set (circle / square / triangle, 128x128 PNGs in
# COCO format) written by tools/dataset_converters/make_shapes_coco.py.
# Schedule: a fixed budget of 1000 iterations of batch 8 with AdamW, not
# the paper's SGD: from scratch and at this budget, SGD (lr 0.005, 0.01,
# 0.04) stayed at 0.005-0.034 bbox mAP after 500 iterations where AdamW
# reached 0.166 (README, "Detection experiment on the synthetic shapes").
_data_root = 'data/shapes_coco/'
_metainfo = dict(classes=('circle', 'square', 'triangle'))
_max_iters = 1000
_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
_test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    # If you don't have a gt annotation, delete the pipeline
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
shapes = dict(
    data_root=_data_root,
    metainfo=_metainfo,
    max_iters=_max_iters,
    train_pipeline=_train_pipeline,
    test_pipeline=_test_pipeline,
    train_dataloader=dict(
        batch_size=8,
        num_workers=2,
        persistent_workers=True,
        sampler=dict(type='DefaultSampler', shuffle=True),
        batch_sampler=dict(type='AspectRatioBatchSampler'),
        dataset=dict(
            type='CocoDataset',
            data_root=_data_root,
            metainfo=_metainfo,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=4),
            pipeline=_train_pipeline,
            backend_args=None)),
    val_dataloader=dict(
        batch_size=8,
        num_workers=2,
        persistent_workers=True,
        drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='CocoDataset',
            data_root=_data_root,
            metainfo=_metainfo,
            ann_file='annotations/instances_val.json',
            data_prefix=dict(img='val/'),
            test_mode=True,
            pipeline=_test_pipeline,
            backend_args=None)),
    val_evaluator=dict(
        type='CocoMetric',
        ann_file=_data_root + 'annotations/instances_val.json',
        metric='bbox',
        format_only=False,
        backend_args=None),
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2),
    param_scheduler=[
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
             end=50),
        dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
             end=_max_iters, T_max=_max_iters),
    ],
    default_hooks=dict(
        logger=dict(interval=50),
        checkpoint=dict(by_epoch=False, interval=_max_iters,
                        max_keep_ckpts=1)),
)
# Only ``shapes`` is this file's key.
del _data_root, _metainfo, _max_iters, _train_pipeline, _test_pipeline
