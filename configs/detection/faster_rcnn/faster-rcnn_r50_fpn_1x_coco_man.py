# MAN on mmdet's Faster R-CNN R50-FPN / COCO: one local module per
# Bottleneck (16; mmdet freezes the stem and layer1, so K=13 train), each
# trained through a local FPN (bank stages below, its own stage, SLM blocks
# above) and the shared RPN + RoI head with both their losses
# (man_mm.TwoStageTaskAdapter). Everything else is mmdet's config.
_base_ = './faster-rcnn_r50_fpn_1x_coco_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
train_cfg = dict(type='man_mm.LocalEpochBasedTrainLoop')
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
