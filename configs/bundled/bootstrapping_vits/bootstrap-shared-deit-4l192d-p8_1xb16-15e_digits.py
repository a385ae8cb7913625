# Bootstrapping ViTs (https://arxiv.org/abs/2112.03552), shared mode, at
# digits scale: bootstrap-joint-deit-4l192d-p8_1xb16-15e_digits.py with an
# agent CNN made of the ViT's own weights (model.share_weights: block i's
# 3x3 convolution is W_o^h W_v^h of the ViT block's attention, head h at
# kernel position (h // 3, h % 3), its MLP the ViT's as 1x1 convolutions;
# the CNN keeps only its BatchNorms, input projection and head), and the
# official shared weights: CE 0.5 + 0.5, KD 0.5 + 0.5, hint 5.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./bootstrap-joint-deit-4l192d-p8_1xb16-15e_digits.py']

model = dict(
    students=dict(cnn=dict(backbone=dict(shared=True, conv_type='heads'))),
    share_weights=dict(cnn='vit'),
    distiller=dict(
        losses=dict(
            loss_cls_vit=dict(loss_weight=0.5),
            loss_cls_cnn=dict(loss_weight=0.5),
            loss_kd_vit=dict(loss_weight=0.5),
            loss_kd_cnn=dict(loss_weight=0.5),
            loss_hint=dict(loss_weight=5.0))))
