# MAN on mmdet's YOLOv3-D53 / COCO: one local module per Darknet residual
# block (23; a stage's stride-2 conv goes with its first block, conv1 with
# the very first), SLM aux nets (per later stage: its downsampling conv + one
# residual block) over the bank's stage outputs C3-C5, sharing the real
# YOLOV3Neck and YOLOV3Head. Everything else is mmdet's config.
_base_ = './yolov3_d53_8xb8-320-273e_coco_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
train_cfg = dict(type='man_mm.LocalEpochBasedTrainLoop')
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
