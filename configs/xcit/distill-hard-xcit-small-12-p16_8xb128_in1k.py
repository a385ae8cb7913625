# XCiT-S12/16 hard-distilled from a RegNetY-16GF teacher on ImageNet-1k at
# 224 (83.3% top-1, the "224 §" column of the official README, weights
# xcit_small_12_p16_224_dist.pth): the distillation of
# distill-hard-xcit-nano-12-p16_8xb128_in1k.py (one head, whose logits
# are both terms of the official hard-distillation loss) on the recipe of
# sup-xcit-small-12-p16_8xb128_in1k.py (stochastic depth 0.05, the
# official README's training command for S12/16).
# Source: official XCiT README ("§: distillation") and code on the recipe
# of sup-xcit-small-12-p16_8xb128_in1k.py.
_base_ = ['./distill-hard-xcit-nano-12-p16_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='xcit-small-12-p16', drop_path_rate=0.05),
    head=dict(in_channels=384))
