# EcoFormer (Liu et al. 2022, https://arxiv.org/abs/2209.09004) at digits
# scale: the digits DeiT of
# configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py (4 blocks of
# deit-tiny's widths, 192 dims, 3 heads, MLP 768, patch 8: 16 patch tokens
# + the class token) wrapped by mmvitplug.EcoFormer: the
# attention of every block is EcoFormer's (shared q = k, normalised,
# hashed to 16-bit codes by kernelised supervised hashing, linear
# attention on the codes, mmvitplug.layers.EcoFormerAttention). The
# official nbits 16 is kept; anchors and targets are scaled to the 17
# tokens (official m = 25 anchors and topk = 10 for PVTv2's 49-3136
# tokens): 8 anchors, the 4 most / least similar tokens per row.
# Trained from scratch on the baseline's schedule (the official recipe
# fine-tunes a trained softmax model for 30 epochs: there the features are
# already trained when the hash functions are fit once, k = 300); as the
# features move fast from scratch, mmvitplug.EcoFormerHook refits the hash
# functions on the first batch of every epoch (interval 1).
# Everything else is the baseline's: batch 16, AdamW lr 5e-4, one warm-up
# epoch, cosine to epoch 15, cross-entropy.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = '../../_base_/common/deit-4l192d-p8_1xb16_digits.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.EcoFormer',
        backbone={{_base_.deit_backbone}},
        nbits=16,
        num_anchors=8,
        topk=4))

custom_hooks = [dict(type='mmvitplug.EcoFormerHook', interval=1)]
