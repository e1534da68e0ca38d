# mmdet's DINO (4-scale, deformable attention, contrastive denoising) on a
# half-width ResNet-18, trained end to end (BP) from scratch on the
# SYNTHETIC shapes set with the shapes demo's data and budget. The
# transformer is shrunk for a CPU budget (2 encoder and 2 decoder layers,
# FFN 512, 50 queries, 20 denoising queries); DINO's AdamW recipe (clip 0.1)
# is kept, at lr 2e-4 for the short budget. A DETR needs far more than 1000
# iterations to converge: the result says how far it gets.
_base_ = [
    'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py',
    '../../_base_/man_mm_imports.py',
    '../../_base_/recipes/shapes_detection.py',
]
# DINO's decoder encodes box coordinates with 128 sine features per
# coordinate, which ties the width to 256.
_dims = 256
model = dict(
    num_queries=50,
    backbone=dict(
        depth=18, base_channels=32, frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 256], out_channels=_dims,
              norm_cfg=dict(type='GN', num_groups=32)),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=_dims, num_heads=8),
            ffn_cfg=dict(embed_dims=_dims, feedforward_channels=512))),
    decoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=_dims, num_heads=8),
            cross_attn_cfg=dict(embed_dims=_dims, num_heads=8),
            ffn_cfg=dict(embed_dims=_dims, feedforward_channels=512))),
    positional_encoding=dict(num_feats=_dims // 2),
    bbox_head=dict(num_classes=3, embed_dims=_dims),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=20)),
    test_cfg=dict(max_per_img=50))
del _dims

# The shapes demo's data and schedule (../../_base_/recipes/shapes_detection.py).
max_iters = {{_base_.shapes.max_iters}}
train_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset={{_base_.shapes.train_dataloader.dataset}})
val_dataloader = dict(
    batch_size=8, num_workers=2,
    dataset={{_base_.shapes.val_dataloader.dataset}})
test_dataloader = val_dataloader
val_evaluator = {{_base_.shapes.val_evaluator}}
test_evaluator = val_evaluator
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1, norm_type=2))
param_scheduler = {{_base_.shapes.param_scheduler}}
train_cfg = dict(
    _delete_=True,
    type='man_mm.LocalIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
default_hooks = {{_base_.shapes.default_hooks}}
log_processor = dict(by_epoch=False)
custom_hooks = []
randomness = dict(seed=0)
