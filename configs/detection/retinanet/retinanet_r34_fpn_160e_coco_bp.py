# RetinaNet-R34 on COCO 2017 trained end to end (BP), paper recipe.
_base_ = './retinanet_r50_fpn_160e_coco_bp.py'
model = dict(
    backbone=dict(
        depth=34,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet34')),
    neck=dict(in_channels=[64, 128, 256, 512]))
