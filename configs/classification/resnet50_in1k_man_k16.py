# MAN on mmpretrain's ResNet-50 / ImageNet-1k: 16 local modules (the stem
# joins the first Bottleneck, then one module per block), SLM aux nets that
# share the real head. Everything else is mmpretrain's config.
_base_ = [
    'mmpretrain::resnet/resnet50_8xb32_in1k.py', '../_base_/man_mm_imports.py'
]

model = dict(
    _delete_=True,
    type='man_mm.LocalLearningModel',
    model={{_base_.model}})

train_cfg = dict(type='man_mm.LocalEpochBasedTrainLoop')
custom_hooks = [dict(type='man_mm.FeatureBankHook')]
