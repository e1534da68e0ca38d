# The demo: ResNet-32 trained end to end on the embedded digits set
# (tools/dataset_converters/prepare_digits.py), a CPU-sized version of the
# paper's recipe (SGD Nesterov, cosine) for side-by-side runs with MAN.
_base_ = [
    '../_base_/man_mm_imports.py',
    '../_base_/models/cifar_resnet32.py',
    '../_base_/datasets/digits_bs64.py',
    '../_base_/schedules/local_cls_400e.py',
    'mmpretrain::_base_/default_runtime.py',
]
max_epochs = 6
# ResNet-32 on 1.4k digits is lr-sensitive: 0.05 reaches ~40% in this
# budget, 0.2 ~95% (measured with BP).
lr = 0.2
optim_wrapper = dict(optimizer=dict(lr=lr))
# The recipe's linear warm-up from lr 0.01 (10 of 400 epochs there) is cut
# to the first epoch of this short budget, then the cosine curve.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01 / lr, by_epoch=True, begin=0,
         end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
