# DHVT-S (patch 4, 8 heads) trained from scratch on CIFAR-100 at 32x32
# (https://arxiv.org/abs/2210.05958; 23.4M parameters with the 100-class
# head, official count): the recipe of
# sup-dhvt-t-cifar-p4_2xb256_cifar100.py, which the official
# run_code_cifar.sh uses for every CIFAR model (only --model changes).
# Source: official ArieSeirack/DHVT run_code_cifar.sh, main.py and
# vision_transformer.py (dhvt_small_cifar_patch4).
_base_ = ['./sup-dhvt-t-cifar-p4_2xb256_cifar100.py']

model = dict(
    backbone=dict(arch='dhvt-s-cifar-p4'), head=dict(in_channels=384))
