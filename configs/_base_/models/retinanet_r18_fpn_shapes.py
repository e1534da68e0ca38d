# A small RetinaNet for the 128 px SYNTHETIC shapes set: mmdet's RetinaNet
# with a half-width ResNet-18 (32-256 channels), a 64-channel FPN and a
# two-conv head, from scratch. Pure mmdet: a stripped man_mm checkpoint
# loads into this config with no man_mm import.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'
model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    bbox_head=dict(
        num_classes=3, in_channels=64, feat_channels=64, stacked_convs=2))
