# Mesa (Pan et al. 2021, https://arxiv.org/abs/2111.11124) at digits scale:
# the digits DeiT of configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py
# (4 blocks of deit-tiny's widths, 192 dims, 3 heads, MLP 768, patch 8)
# trained with mmvitplug.MesaHook, which converts the whole classifier in
# place before the run: every nn.Linear (backbone and head), GELU,
# LayerNorm, and the attention's softmax and q k^T / attn v products of
# each block store their saved-for-backward tensors as 8-bit codes (3
# groups: the heads, as the official DeiT-Ti policy; patch-embedding conv
# in full precision, as officially). The forward is exact; only gradients
# carry the 8-bit error.
# Everything else is the baseline's: batch 16, AdamW lr 5e-4, one warm-up
# epoch, cosine to epoch 15, cross-entropy.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = '../../_base_/common/deit-4l192d-p8_1xb16_digits.py'

custom_hooks = [
    dict(
        type='mmvitplug.MesaHook',
        policy=dict(
            ops=('linear', 'matmul', 'softmax', 'gelu', 'layernorm'),
            num_groups=3)),
]
