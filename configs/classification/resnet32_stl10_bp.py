# ResNet-32 on STL-10 (96x96, labelled train -> test) trained end to end
# (BP), paper Table 1 recipe: batch 128, lr 0.1, 400 epochs cosine.
_base_ = [
    '../_base_/man_mm_imports.py',
    '../_base_/models/cifar_resnet32.py',
    '../_base_/datasets/stl10_bs128.py',
    '../_base_/schedules/local_cls_400e.py',
    'mmpretrain::_base_/default_runtime.py',
]
lr = 0.1
optim_wrapper = dict(optimizer=dict(lr=lr))
# The references' warm-up starts at lr 0.01 whatever the base lr.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01 / lr, by_epoch=True, begin=0,
         end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=400,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=128)
