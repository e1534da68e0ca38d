# CIFAR ResNet-32 (3 stages x 5 BasicBlocks, 16/32/64 channels), the network
# of the paper's Table 1, registered by man_mm.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='man_mm.CifarResNet', depth=32),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
