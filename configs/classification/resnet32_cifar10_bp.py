# ResNet-32 on CIFAR-10 trained end to end (BP): the baseline of Table 1.
_base_ = [
    '../_base_/man_mm_imports.py',
    '../_base_/models/cifar_resnet32.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    '../_base_/schedules/local_cls_400e.py',
    'mmpretrain::_base_/default_runtime.py',
]
# mmpretrain's CIFAR10 downloads missing files; this project never does.
train_dataloader = dict(
    batch_size=1024, num_workers=4, dataset=dict(download=False))
val_dataloader = dict(
    batch_size=1024, num_workers=4, dataset=dict(download=False))
test_dataloader = val_dataloader
