# PredSim as its authors' code trains it (anokland/local-loss train.py):
# Adam at lr 5e-4 without weight decay, prediction features pooled to at
# most 4096 and a zero-initialised prediction layer. The Table 1 config
# (resnet32_cifar10_predsim_k16.py) follows AugLocal's re-implementation
# (512 features, the SGD recipe of every other method), as the paper does.
# local-loss decays the lr by 0.25 at epochs 200/300/350/375 of 400 and has
# no warm-up; this keeps the project's schedule (warm-up, then cosine).
_base_ = './resnet32_cifar10_predsim_k16.py'
model = dict(aux=dict(pred_features=4096, zero_init_pred=True))
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='Adam', lr=5e-4, weight_decay=0.0))
