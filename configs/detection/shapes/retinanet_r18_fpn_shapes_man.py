# MAN on the shapes demo: K=8 (one module per block), SLM aux nets reading
# the feature bank, sharing the real FPN and head.
_base_ = './retinanet_r18_fpn_shapes_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
