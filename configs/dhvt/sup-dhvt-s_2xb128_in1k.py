# DHVT-S (patch 16) trained on ImageNet-1k at 224
# (https://arxiv.org/abs/2210.05958; 82.3 top-1, 23.8M parameters in the
# official README): the recipe of sup-dhvt-t_2xb128_in1k.py, which the
# official run_code_imn.sh uses for both sizes (only --model changes).
# Source: official ArieSeirack/DHVT run_code_imn.sh, main.py and
# vision_transformer.py (dhvt_small_imagenet_patch16).
_base_ = ['./sup-dhvt-t_2xb128_in1k.py']

model = dict(
    backbone=dict(arch='dhvt-s'), head=dict(in_channels=384))
