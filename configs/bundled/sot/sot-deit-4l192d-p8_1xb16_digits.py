# SoT (https://arxiv.org/abs/2104.10935) on the bundled digits: the digits
# DeiT of sup-deit-4l192d-p8_1xb16_digits.py (same backbone, same schedule)
# gives its raw tokens (class token + 16 word tokens) to mmvitplug.SoTClsHead
# with SoT-Tiny's head: MGCrP with 6 heads of wr_dim 14 (6 x 14^2 = 1176
# features), svPN (alpha 0.5, 1 power iteration, 1 singular value,
# learnable start vector), no dropout, 'sum_fc' fusion:
# logits = cls_fc(class token) + visual_fc(MGCrP(word tokens)).
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./sup-deit-4l192d-p8_1xb16_digits.py']

model = dict(
    backbone=dict(out_type='raw'),
    head=dict(
        _delete_=True,
        type='mmvitplug.SoTClsHead',
        num_classes=10,
        in_channels=192,
        num_extra_tokens=1,
        num_heads=6,
        wr_dim=14,
        normalization=dict(
            type='svPN', alpha=0.5, iter_num=1, sv_num=1,
            init_weight='learn'),
        dropout=0.,
        fusion_type='sum_fc',
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
