# MAN on YOLOv3-R34 / COCO: one module per block (the paper's K=16; stem and
# layer1 stay frozen), SLM aux nets over the bank's stage outputs, sharing
# the real YOLOV3Neck and YOLOV3Head.
_base_ = './yolov3_r34_160e_coco_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
