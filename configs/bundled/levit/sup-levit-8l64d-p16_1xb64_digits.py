# LeViT on the bundled digits: a small LeViT (stages of 64 / 96 / 128
# channels, key dim 16, 4 / 6 / 8 heads, 2 attention + MLP layers per stage,
# the subsampling layer opening stages 2 and 3: 8 trunk layers, stride-16
# conv stem) on the 32x32 digits upsampled to 64x64 (a 4x4 token grid, then
# 2x2 and 1x1), so the attention biases and the subsampling have a grid to
# work on. One BN + Linear head (no distillation head). AdamW + warm-up +
# cosine of the digits schedule.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

arch = dict(embed_dims=[64, 96, 128], key_dim=16, num_heads=[4, 6, 8],
            depths=[2, 2, 2])

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmvitplug.LeViT', arch=arch, img_size=64,
                  drop_path_rate=0.),
    neck=None,
    head=dict(
        type='mmvitplug.LeViTClsHead',
        num_classes=10,
        in_channels=128,
        distilled=False,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=2),
    dict(type='Resize', scale=(64, 64), interpolation='bilinear'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), interpolation='bilinear'),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
