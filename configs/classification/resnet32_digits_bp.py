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
optim_wrapper = dict(optimizer=dict(lr=0.2))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
