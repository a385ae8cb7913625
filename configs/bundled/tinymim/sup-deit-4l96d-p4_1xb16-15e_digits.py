# Fine-tuning on the bundled digits of the 4-block DeiT of 96 dims on 4x4
# patches pre-trained by tinymim-deit-4l96d-p4_1xb64-30e_digits.py (its
# exported backbone): the digits DeiT recipe (AdamW lr 5e-4, batch 16, one
# warm-up epoch, cosine, 15 epochs, shifts of up to 2 pixels), the same for
# a pre-trained and a random start:
#   tools/train.py THIS_CONFIG                    # the exported backbone
#   tools/train.py THIS_CONFIG --cfg-options model.backbone.init_cfg=None
#                                                 # the same at random init
# Source: bundled-data evaluation config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
]

train_dataloader = dict(batch_size=16)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=96, num_layers=4, num_heads=3,
            feedforward_channels=384),
        img_size=32,
        patch_size=4,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/tinymim-deit-4l96d-p4_1xb64-30e_digits/'
            'backbone.pth',
            prefix='backbone.')),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=96,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=30))
