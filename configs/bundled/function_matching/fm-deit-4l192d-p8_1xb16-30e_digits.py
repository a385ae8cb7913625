# Function matching (https://arxiv.org/abs/2106.05237) at digits scale:
# the 4-block DeiT of bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py
# trained from scratch ONLY to match the frozen digits ResNet teacher
# (_teachers/resnet18-w32_digits.py): KL(teacher || student) at t = 1, no
# label term; both see the same random-resized crop, mixed by Mixup
# (alpha 1) once per batch; 30 epochs (twice the supervised digits
# schedule: "patience" at this scale). Baselines on the same schedule, crops
# and Mixup: sup-deit-4l192d-p8_1xb16-30e_digits.py (labels, no teacher) and
# fm-inconsistent-deit-4l192d-p8_1xb16-30e_digits.py (teacher sees another
# crop); tools/analysis/distill_claims.py compares the three.
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py
_base_ = [
    '../../_base_/distillers/logit_kd.py',
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
    '../../_teachers/resnet18-w32_digits.py',
]

model = dict(
    type='mmvitplug.DistillationClassifier',
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
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
    ),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        _base_.logit_kd_inputs,
        losses=dict(
            loss_kd=dict(
                type='mmvitplug.KLDivergenceLoss', tau=1.0,
                tau_squared=True))),
)
data_preprocessor = dict(
    type='mmvitplug.MultiViewClsDataPreprocessor',
    batch_augments=dict(augments=[dict(type='Mixup', alpha=1.0)]))

# crops keeping 35-100% of the area (the digits have no room for the
# paper's 5%), no flips (they change digits)
crop = dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.35, 1.))
train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'), crop,
        dict(type='PackInputs')
    ]))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
        end=30, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30)
default_hooks = dict(logger=dict(interval=30))
