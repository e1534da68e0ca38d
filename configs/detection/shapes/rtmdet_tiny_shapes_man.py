# MAN on RTMDet-tiny / shapes: CSPNeXt-tiny's units grouped into K=4 local
# modules (a CPU budget, as in the RetinaNet shapes demo), SLM aux nets over
# the feature bank's stage outputs, sharing the real CSPNeXtPAFPN and
# RTMDetSepBNHead.
_base_ = './rtmdet_tiny_shapes_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}},
    num_modules=4)
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
