# MobileNetV2 (width 0.5) trained end to end on the embedded digits: the
# BP twin of mobilenet-v2-w05_digits_man.py. The digits schedule (SGD
# Nesterov, 1-epoch warm-up, cosine), 20 epochs at lr 0.1.
_base_ = './resnet32_digits_bp.py'
model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(type='MobileNetV2', widen_factor=0.5),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
max_epochs = 20
lr = 0.1
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01 / lr, by_epoch=True, begin=0,
         end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
