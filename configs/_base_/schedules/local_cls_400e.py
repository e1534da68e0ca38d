# Paper appendix A.2 (the AugLocal recipe): SGD, Nesterov momentum 0.9,
# weight decay 1e-4, 400 epochs of cosine annealing. lr 0.8 is for a total
# batch of 1024 (CIFAR-10/SVHN); STL-10 overrides it with 0.1 at batch 128.
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.8, momentum=0.9, nesterov=True, weight_decay=1e-4))
# The references (AugLocal and InfoPro train.py, adjust_learning_rate) warm
# up linearly from lr 0.01 over the first 10 epochs, then follow the cosine
# curve of the whole run; every method here, BP included, does the same.
# (They set the lr once per epoch; mmengine updates it every iteration.)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01 / 0.8,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        T_max=400,
        convert_to_iter_based=True),
]
# The man_mm loop runs BP models too and logs act_mem for both.
train_cfg = dict(
    type='man_mm.LocalEpochBasedTrainLoop', max_epochs=400, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)
