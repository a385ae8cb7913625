# The baseline of Divide and Co-training at digits scale: the WIDE DeiT
# (bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py: 4 blocks of 192 dims,
# 3 heads, MLP 768, patch 8; 1.822M parameters) trained alone, with the
# crops, Mixup (alpha 0.2), batch, lr and 30-epoch schedule of
# dct-deit-4l136d-p8_1xb16-30e_digits.py (its S = 2 division into two
# 136-dim DeiTs, co-trained) and the undivided weight decay 0.05; one crop
# per image, cross-entropy on the (mixed) labels.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./dct-deit-4l136d-p8_1xb16-30e_digits.py']

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=192,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
data_preprocessor = dict(type='ClsDataPreprocessor')
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'), _base_.crop,
        dict(type='PackInputs')
    ]))
optim_wrapper = dict(optimizer=dict(weight_decay=0.05))
custom_hooks = []
