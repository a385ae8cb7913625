# Softmax gradient tampering / PowerGrad Transform (Das et al. 2021,
# https://arxiv.org/abs/2111.12495) at digits scale, convnet version: the
# half-width ResNet-18 of sup-resnet18-w32_1xb64_digits.py trained from
# scratch with mmvitplug.TamperedCrossEntropyLoss (alpha 0.25, the paper's
# ResNet-18 value): the loss is still the cross-entropy, its gradient at
# the logits uses p^0.25 / sum p^0.25 in place of p.
# Everything else is the baseline's: batch 64, shifts of up to 2 pixels,
# SGD with Nesterov momentum, lr 0.1, weight decay 5e-4, cosine over 6
# epochs.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./sup-resnet18-w32_1xb64_digits.py']

model = dict(
    head=dict(
        loss=dict(
            _delete_=True, type='mmvitplug.TamperedCrossEntropyLoss',
            alpha=0.25)))
