# MACL (https://arxiv.org/abs/2207.07874) in mmpretrain's MoCo (v2),
# unchanged: only the head is mmvitplug.MACLHead. The tiny DeiT, views and
# schedule of macl-simclr-deit-4l64d-p8_1xb64_digits.py.
# Source: bundled-data smoke config, not a paper recipe.
#
# MoCo v2's 2-layer MLP projection (64 -> 128 -> 64, no BatchNorm), a
# queue of 1024 keys (~0.75 of the 1.4k training digits), momentum 0.99
# (momentum=0.01, mmpretrain's weight of the new parameters; MoCo v2's
# 0.999 is too slow for ~440 steps), MACL with tau0 0.2 (MoCo v2's
# temperature), alpha 0.5, A0 0 (lightly's defaults; the paper's values are
# not in released code).
_base_ = ['./macl-simclr-deit-4l64d-p8_1xb64_digits.py']

model = dict(
    _delete_=True,
    type='MoCo',
    queue_len=1024,
    feat_dim=64,
    momentum=0.01,
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=64, num_layers=4, num_heads=2,
            feedforward_channels=256),
        img_size=32,
        patch_size=8,
        out_type='cls_token'),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=64,
        hid_channels=128,
        out_channels=64,
        with_avg_pool=False),
    head=dict(
        type='mmvitplug.MACLHead',
        loss=dict(
            type='mmvitplug.MACLLoss', temperature=0.2, alpha=0.5, a0=0.)),
    data_preprocessor={{_base_.model.data_preprocessor}},
)
