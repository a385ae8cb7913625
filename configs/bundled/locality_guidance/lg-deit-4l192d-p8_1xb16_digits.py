# Locality guidance (Li et al., ECCV 2022, https://arxiv.org/abs/2207.10026)
# at digits scale: the student, data and 15-epoch schedule of
# bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py (its baseline), guided by
# the frozen digits ResNet (_teachers/resnet18-w32_digits.py). The loss is
# the official one: CE on the labels + 2.5 x the sum over 3 (student block,
# teacher stage) pairs of the MSE between the student's patch tokens laid
# out as a map and put through a 1x1 conv (a connector trained with the
# student) and the teacher's stage output, both bilinearly resized to the
# larger of their two grids.
# Pairs, by analogy with the official DeiT-Ti [0, 6, 11] <-> ResNet-56
# stages [0, 1, 2] (first, middle, last block <-> the first three stages):
# blocks [0, 2, 3] of 4 <-> layer1 / layer2 / layer3 of the ResNet. On 32 px
# input the student has a 4x4 token grid (patch 8) and the teacher's stride-4
# stem gives stage maps of 8x8 (32 ch), 4x4 (64 ch), 2x2 (128 ch) (layer4 is
# 1x1, no locality left), so the grids are resized to 8, 4 (none) and 4: the
# official ratios (student 14x14 vs teacher 32, 16, 8: student up, about
# equal, teacher up).
# The teacher was trained at 32 px, the student's size: no teacher input
# resize at this scale (the official recipe resizes the 224 px student
# input to the teacher's 32 px; teacher_input_size stays unset here).
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/schedules/digits_adamw_15e.py',
    '../../_teachers/resnet18-w32_digits.py',
]

# The three guidance pairs k = 0, 1, 2: student block s{k} -> patch tokens
# as a map -> 1x1 conv proj{k} to the teacher's channels -> resize size{k};
# teacher stage t{k} -> the same resize size{k}; MSE x 2.5 (loss_lg{k}).
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
        recorders=dict(
            logits=dict(source='head.fc'),
            s0=dict(source='backbone.blocks.0'),  # (N, 1 + 16, 192)
            s1=dict(source='backbone.blocks.2'),
            s2=dict(source='backbone.blocks.3'),
            t0=dict(source='teacher.backbone.layer1'),  # (N, 32, 8, 8)
            t1=dict(source='teacher.backbone.layer2'),  # (N, 64, 4, 4)
            t2=dict(source='teacher.backbone.layer3')),  # (N, 128, 2, 2)
        connectors=dict(
            # patch tokens (class token dropped) -> (N, 192, 4, 4)
            tokens=dict(
                type='mmvitplug.TokensToMapConnector', num_extra_tokens=1,
                grid_size=4),
            proj0=dict(
                type='mmvitplug.ConvConnector', in_channels=192,
                out_channels=32),
            proj1=dict(
                type='mmvitplug.ConvConnector', in_channels=192,
                out_channels=64),
            proj2=dict(
                type='mmvitplug.ConvConnector', in_channels=192,
                out_channels=128),
            # the larger grid of each pair: 8 (student up), 4 (both 4x4),
            # 4 (teacher up)
            size0=dict(type='mmvitplug.ResizeConnector', size=8),
            size1=dict(type='mmvitplug.ResizeConnector', size=4),
            size2=dict(type='mmvitplug.ResizeConnector', size=4)),
        losses=dict(
            loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_lg0=dict(type='mmvitplug.HintLoss', loss_weight=2.5),
            loss_lg1=dict(type='mmvitplug.HintLoss', loss_weight=2.5),
            loss_lg2=dict(type='mmvitplug.HintLoss', loss_weight=2.5)),
        loss_inputs=dict(
            loss_cls=dict(cls_score='logits', label='targets'),
            loss_lg0=dict(
                preds=dict(
                    recorder='s0', connector=['tokens', 'proj0', 'size0']),
                target=dict(recorder='t0', connector='size0')),
            loss_lg1=dict(
                preds=dict(
                    recorder='s1', connector=['tokens', 'proj1', 'size1']),
                target=dict(recorder='t1', connector='size1')),
            loss_lg2=dict(
                preds=dict(
                    recorder='s2', connector=['tokens', 'proj2', 'size2']),
                target=dict(recorder='t2', connector='size2')))),
)

# as the baseline: no augmentation, batch 16, lr 5e-4
train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=30))
