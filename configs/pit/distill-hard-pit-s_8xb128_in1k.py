# PiT-S with a distillation token, hard-distilled from a RegNetY-16GF
# teacher on ImageNet-1k (https://arxiv.org/abs/2103.16302; 81.9 top-1,
# the "+Distill" column of the official README, weights
# pit_s_distilled): distill-hard-pit-ti_8xb128_in1k.py on pit-s.
# Source: PiT official README ("+Distill") on the DeiT paper's hard
# distillation recipe.
_base_ = ['./distill-hard-pit-ti_8xb128_in1k.py']
embed_dims = 576

model = dict(backbone=dict(arch='pit-s'), head=dict(in_channels=embed_dims))
