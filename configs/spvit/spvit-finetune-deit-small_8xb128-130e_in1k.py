# SPViT-DeiT-S fine-tuning (He et al. 2021,
# https://arxiv.org/abs/2111.11802; official README: 78.3 top-1 at 3.3
# GFLOPs; official SPViT_DeiT/config/spvit_deit_sm_l30_t32_ft.json): as the
# DeiT-Ti fine-tuning (spvit-finetune-deit-tiny_4xb256-130e_in1k.py) with
# the official searched DeiT-S architecture: block 0 a 1 x 1 convolution,
# MSA elsewhere, the FFN units kept by
# ffn_indicators/spvit_deit_sm_l30_t32_search_10epoch.pth; 8 x 128 images.
# Source: official config/spvit_deit_sm_l30_t32_ft.json + params.py.
_base_ = ['./spvit-finetune-deit-tiny_4xb256-130e_in1k.py']

model = dict(
    backbone=dict(
        backbone=dict(arch='deit-small'),
        msa_choices=['conv1x1'] + ['msa'] * 11,
        ffn_hidden=[
            1304, 1399, 1344, 1214, 1251, 1183, 1140, 925, 742, 391, 104, 103
        ]),
    head=dict(in_channels=384))
load_from = \
    'work_dirs/spvit-search-deit-small_8xb128-10e_in1k/spvit_exported.pth'
train_dataloader = dict(batch_size=128)
