# MAN on ResNet-32 / CIFAR-10 with K=4 local modules (units grouped evenly).
_base_ = './resnet32_cifar10_man_k16.py'
model = dict(num_modules=4)
