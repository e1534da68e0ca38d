# MAN on YOLOv3-D53 / shapes: Darknet-53's 23 residual-block units grouped
# into K=4 local modules (a CPU budget, as in the RetinaNet shapes demo),
# SLM aux nets over the feature bank's stage outputs C3-C5, sharing the real
# YOLOV3Neck and YOLOV3Head.
_base_ = './yolov3_d53_shapes_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}},
    num_modules=4)
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
