# TinyMIM (https://arxiv.org/abs/2301.01296) at digits scale, without
# labels: a 4-block DeiT of 96 dims (3 heads) on 4x4 patches learns the
# Q-K and V-V token relations of the MAE-pre-trained digits ViT
# (_teachers/mae-vit-6l192d-p4_digits.py: 6 blocks, 192 dims, 6 heads) at
# the teacher's 5th block of 6 (an intermediate block for a shallower
# student, as ViT-L's 18th of 24 for ViT-B), its own last block split into
# the teacher's 6 heads (of 16 dims). The teacher sees each random crop as
# it is, the student colour-jittered (brightness / contrast 0.4; saturation
# does nothing to grey digits). The official optimizer (AdamW betas 0.9 /
# 0.95, weight decay 0.05 except on 1-D parameters, warm-up then cosine to
# 0) at lr 1.5e-3 for 30 epochs (the teacher's 65-token forward makes a
# step ~1 s on one CPU thread). Then fine-tune:
#   tools/model_converters/export_backbone.py THIS_CONFIG CKPT backbone.pth
#   tools/train.py sup-deit-4l96d-p4_1xb16-15e_digits.py
# tools/analysis/pretrain_vs_random.py runs both for several seeds, next to
# the same fine-tuning from random init.
# Source: bundled-data smoke config, not a paper recipe.
# Pre-train the teacher first:
#   python tools/train.py \
#       configs/bundled/tinymim/mae-vit-6l192d-p4_1xb64-100e_digits.py
_base_ = [
    '../../_base_/distillers/tinymim.py',
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/tinymim_adamw_300e.py',
    '../../_teachers/mae-vit-6l192d-p4_digits.py',
]

data_preprocessor = dict(type='mmvitplug.MultiViewClsDataPreprocessor')
train_dataloader = dict(
    batch_size=64,
    drop_last=True,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(
            type='RandomResizedCrop', scale=32,
            crop_ratio_range=(0.35, 1.)),
        # view 1 to the student (jittered), view 2 to the teacher
        dict(
            type='MultiView',
            num_views=[1, 1],
            transforms=[[
                dict(
                    type='ColorJitter', brightness=0.4, contrast=0.4,
                    saturation=0.4)
            ], []]),
        dict(type='PackInputs'),
    ]))

# the student's last block gives its relations with the teacher's heads
_student = dict(
    source='backbone.blocks.3.attn', num_heads=_base_.teacher_heads)
_teacher = dict(source='teacher.backbone.layers.4.attn')
model = dict(
    backbone=dict(
        arch=dict(
            embed_dims=96, num_layers=4, num_heads=3,
            feedforward_channels=384),
        img_size=32,
        patch_size=4),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        recorders=dict(student=_student, teacher=_teacher)))

# the official schedule (_base_/schedules/tinymim_adamw_300e.py) at lr
# 1.5e-3, 2 warm-up epochs from 1e-3 x the peak, 30 epochs
max_epochs = 30
warmup_epochs = 2
optim_wrapper = dict(optimizer=dict(lr=1.5e-3))
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-3, end=warmup_epochs),
    dict(_base_.param_scheduler[1], begin=warmup_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
# pre-training: no validation
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=10, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
