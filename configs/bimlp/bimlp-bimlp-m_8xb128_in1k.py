# BiMLP-M (71.56% top-1 with the official weights), the binary vision MLP
# of https://arxiv.org/abs/2212.14158 (NeurIPS 2022), on ImageNet-1k at
# 224: the official MindSpore evaluation code's BiMLP_M (depths 2-3-10-3,
# widths 64-128-320-512, MLP ratio 4, GroupNorm of one group in the
# blocks). As bimlp-bimlp-s_8xb128_in1k.py: the training recipe is OURS
# (DeiT's), unverified: the paper's is not released.
# Source: official BiMLP bimlp.py (architecture, crop ratio); our recipe
# (DeiT's, Table 9), not the paper's.
_base_ = ['./bimlp-bimlp-s_8xb128_in1k.py']

model = dict(backbone=dict(arch='bimlp-m'))
