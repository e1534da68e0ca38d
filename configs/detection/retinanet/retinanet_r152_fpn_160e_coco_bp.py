# RetinaNet-R152 on COCO 2017 trained end to end (BP), paper recipe.
_base_ = './retinanet_r50_fpn_160e_coco_bp.py'
model = dict(
    backbone=dict(
        depth=152,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet152')),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
