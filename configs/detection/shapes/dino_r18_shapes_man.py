# MAN on DINO-R18 / shapes: the ResNet-18 blocks grouped into K=4 local
# modules (a CPU budget, as in the RetinaNet shapes demo), SLM aux nets over
# the feature bank's stage outputs, sharing the real ChannelMapper,
# deformable encoder/decoder and DINOHead (man_mm.DETRTaskAdapter).
_base_ = './dino_r18_shapes_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}},
    num_modules=4)
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
