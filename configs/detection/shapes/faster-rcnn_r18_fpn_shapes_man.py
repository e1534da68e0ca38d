# MAN on Faster R-CNN / shapes: the ResNet-18 blocks grouped into K=4 local
# modules (a CPU budget, as in the RetinaNet shapes demo), each trained
# through a local FPN (bank stages below, its own stage, SLM blocks above)
# and the shared RPN + RoI head with both their losses.
_base_ = './faster-rcnn_r18_fpn_shapes_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}},
    num_modules=4)
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
