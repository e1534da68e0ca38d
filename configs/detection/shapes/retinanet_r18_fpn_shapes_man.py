# MAN on the shapes demo: SLM aux nets reading the feature bank, sharing the
# real FPN and head. K=4 (two blocks per module) keeps the four-way CPU
# experiment within budget; drop num_modules for one module per block (K=8).
_base_ = './retinanet_r18_fpn_shapes_bp.py'
model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}},
    num_modules=4)
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
