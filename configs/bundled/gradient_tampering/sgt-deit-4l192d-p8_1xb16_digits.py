# Softmax gradient tampering / PowerGrad Transform (Das et al. 2021,
# https://arxiv.org/abs/2111.12495) at digits scale: the digits DeiT of
# sup-deit-4l192d-p8_1xb16_digits.py (4 blocks of deit-tiny's widths, patch
# 8, linear head on the class token) trained from scratch with
# mmvitplug.TamperedCrossEntropyLoss (alpha 0.3): the loss is still the
# cross-entropy, its gradient at the logits uses softmax(0.3 z) =
# p^0.3 / sum p^0.3 in place of p. alpha 0.3: the paper's appendix code,
# its ResNet-50 / ResNet-101 / SE-ResNet-50 value and the official
# README's released ResNet-50 checkpoints (the paper has no transformer;
# its other values, 0.25 for ResNet-18 and 0.05 for its best ResNet-50,
# come from ImageNet grid searches).
# Everything else is the baseline's: batch 16, no augmentation, AdamW lr
# 5e-4, one warm-up epoch, cosine to epoch 15.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./sup-deit-4l192d-p8_1xb16_digits.py']

model = dict(
    head=dict(
        loss=dict(
            _delete_=True, type='mmvitplug.TamperedCrossEntropyLoss',
            alpha=0.3)))
