# MixSKD (Yang et al., ECCV 2022, https://arxiv.org/abs/2208.05768) at
# digits scale, transformer version: the digits DeiT (4 blocks of
# deit-tiny's widths, patch 8) with an auxiliary branch after each of its
# first 3 blocks (a fresh copy of the later blocks and the final norm, then
# pooling of the patch-token map and a linear classifier) and the
# self-teacher head on the 4 patch-token maps (mmvitplug.MixSKDClassifier),
# trained from scratch on each batch and its Mixup (alpha 0.4) with
# mmvitplug.MixSKDLoss (all weights 1, KL at T 3, adversarial
# discriminators). The deployed classifier is the plain DeiT (class token
# + linear head).
# Everything else is the baseline's (sup-deit-4l192d-p8_1xb16_digits.py:
# the same DeiT with CE + Mixup): batch 16, AdamW lr 5e-4, one warm-up
# epoch, cosine to epoch 15.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./sup-deit-4l192d-p8_1xb16_digits.py']

model = dict(
    _delete_=True,
    type='mmvitplug.MixSKDClassifier',
    backbone=_base_.deit_backbone,
    neck=None,
    head=_base_.deit_head,
    branch_stages=[0, 1, 2],
    alpha=0.4,
    loss=dict(type='mmvitplug.MixSKDLoss', tau=3.0))
