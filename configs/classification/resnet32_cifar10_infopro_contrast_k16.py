# InfoPro as its authors' ResNet-32 K=16 command trains it (InfoPro-Pytorch
# comand.sh: --local_loss_mode contrast): the classification branch uses a
# supervised contrastive loss (temperature 0.07) on the L2-normalised
# 128-d output of the 1c2f head. The Table 1 config
# (resnet32_cifar10_infopro_k16.py) uses cross-entropy, as AugLocal's
# re-implementation that the paper's Table 1 follows.
_base_ = './resnet32_cifar10_infopro_k16.py'
model = dict(aux=dict(cls_loss='contrast'))
