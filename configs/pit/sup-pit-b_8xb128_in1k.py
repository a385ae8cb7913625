# PiT-B trained on ImageNet-1k without a teacher
# (https://arxiv.org/abs/2103.16302; 82.0 top-1, the "+DeiT" column of the
# official README): the recipe of sup-pit-ti_8xb128_in1k.py (DeiT's, drop
# path 0.1) on pit-b. 8 GPUs x 128 images.
# Source: PiT paper / official README ("+DeiT" setting) on the DeiT
# paper's Table 9 recipe.
_base_ = ['./sup-pit-ti_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='pit-b'),
    head=dict(in_channels=1024),
)
