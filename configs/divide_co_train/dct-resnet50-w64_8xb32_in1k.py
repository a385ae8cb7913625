# Divide and Co-training (Zhao et al., "Towards Better Accuracy-efficiency
# Trade-offs: Divide and Co-training", TIP 2022,
# https://arxiv.org/abs/2011.14660): WRN-50-2 divided into S = 2 networks,
# trained together from scratch on ImageNet-1k at 224 (the official
# miscs/checkpoints.md: "WRN-50-2, S=2, 224px" 79.64 / 94.82 top-1 / top-5,
# 51.4M parameters, 10.9 GFLOPs, checkpoint
# wide_resnet50_2_split2_imagenet_256_02; the undivided WRN-50-2: 80.66 /
# 95.16, 68.9M).
# Division (model/resnet.py): for wide_resnet50_2 and split_factor 2 the
# bottleneck base width goes from 128 to 64 and inplanes stays 64, so each
# net is a ResNet-50 with the official ImageNet trunk: a deep stem of three
# 3x3 convolutions 3 -> 64 -> 64 -> 128 (stride 2) + max pooling, the
# stride on the 3x3 convolution, average pooling + 1x1 conv on strided
# shortcuts, the last BN of every block zero-initialised, Kaiming (fan out)
# convolutions, fc ~ N(0, 1e-3): mmpretrain's ResNet with deep_stem,
# avg_down, stem_channels 128, base_channels 64 = 25.68M parameters, 51.36M
# for the two (the 51.4M above). mmpretrain's ResNet expresses this width
# exactly.
# Co-training (model/splitnet.py, train_split.py): each net's
# label-smoothed (0.1) cross-entropy on its own view, summed, + the
# co-training loss cot_weight x the Jensen-Shannon divergence of the nets'
# softmaxes (H(mean p) - mean H(p); mmvitplug.JSDivergenceLoss,
# cot_weight 0.5), warmed up as max(0.5 x epoch / 60, 0.005) before epoch
# 60 (cot_weight_warm_up_epochs 60 for ImageNet in script/train_split.sh;
# mmvitplug.LossWeightScheduleHook with min_factor 0.01); Mixup (alpha 0.2)
# once for all nets (one lambda and partner: mmvitplug.
# MultiViewClsDataPreprocessor); every net gets its own augmented view of
# each image (is_diff_data_train 1; dataset/folder.py applies the
# transform split_factor times: MultiView); prediction = the mean of the
# nets' logits (the default ensemble).
# Recipe (script/train_split.sh + parser_params.py + utils/lr_scheduler.py +
# dataset/factory.py): batch 256 (8 GPUs x 32 here), Nesterov SGD lr 0.1
# (no linear scaling: is_linear_lr 0), momentum 0.9; 120 epochs, 5
# warm-up epochs linear per iteration from lr 5e-3 (slow_start_lr) to 0.1,
# then cosine per iteration, floored at 1e-5 (end_lr for ImageNet); weight
# decay 1e-4 for wide_resnet50_2, divided for the S nets by is_div_wd
# (parser default 1): 1e-4 x exp(1 / S - 1) = 6.07e-5, on every parameter
# whose name has no 'norm' / 'bias' (lr_scheduler.get_parameter_groups;
# the official BN modules are named bn* / layer0.N, so BN weights ARE
# decayed and all biases are not: custom_keys '.bias' here); train:
# RandomResizedCrop 224 (scale 0.1-1, bicubic), flip, AutoAugment
# (ImageNetPolicy), RandomErasing p 0.5 (area 0.05-0.12, ratio 0.5-1.5,
# value 0 after normalisation = the mean colour before it); eval: resize
# int(224 x 1.15) = 257 (bicubic), centre crop 224.
# Deviations: the official epoch loop runs range(0, epochs + 1), 121
# epochs (the last at ~1e-5); 120 here. The cosine is mmengine's
# (eta_min 1e-5 + ...) instead of max(cosine, 1e-5): < 1e-5 apart;
# mmengine's LinearLR reaches 0.1 one iteration before the warm-up's end
# (one step, 0.095 / 25020 at 5004 iterations per epoch, apart).
# AutoAugment is mmpretrain's 'imagenet' policy (the paper's 25
# sub-policies, as ImageNetPolicy; mmpretrain's magnitude mapping).
# The official trains with AMP: add --amp to tools/train.py. The parser
# divides the weight decay by default but script/train_split.sh sets
# is_div_wd=0 (its last state trains an undivided SE-ResNet-50): the
# per-run hparams_train.json of the checkpoint was not readable here; the
# division of the paper's method is kept.
# Source: official code FreeformRobotics/Divide-and-Co-training
# (model/splitnet.py, model/resnet.py, parser_params.py, train_split.py,
# utils/lr_scheduler.py, utils/label_smoothing.py, dataset/factory.py,
# script/train_split.sh) and miscs/checkpoints.md.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]

num_students = 2
# one of the S = 2 nets WRN-50-2 is divided into
student = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        stem_channels=128,
        base_channels=64,
        deep_stem=True,
        avg_down=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        init_cfg=dict(type='Normal', layer='Linear', std=0.001)),
)
# utils/label_smoothing.py: (1 - 0.1) x one-hot + 0.1 / classes; on the
# Mixup scores, as lam x CE(y_a) + (1 - lam) x CE(y_b) officially
label_loss = dict(
    type='LabelSmoothLoss', label_smooth_val=0.1, mode='original',
    loss_weight=1.0)
model = dict(
    type='mmvitplug.MutualClassifier',
    students=dict(net0=student, net1=student),
    distiller=dict(
        recorders=dict(
            net0=dict(source='students.net0.head.fc'),
            net1=dict(source='students.net1.head.fc')),
        losses=dict(
            loss_ce_net0=label_loss,
            loss_ce_net1=label_loss,
            # cot_weight 0.5, warmed up by the hook below
            loss_cot=dict(type='mmvitplug.JSDivergenceLoss', loss_weight=0.5)),
        loss_inputs=dict(
            loss_ce_net0=dict(cls_score='net0', label='targets'),
            loss_ce_net1=dict(cls_score='net1', label='targets'),
            loss_cot=dict(logits=['net0', 'net1']))),
    predict_with='ensemble',
    ensemble='logits',
)

data_preprocessor = dict(
    type='mmvitplug.MultiViewClsDataPreprocessor',
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    batch_augments=dict(augments=[dict(type='Mixup', alpha=0.2)]))

bgr_mean = data_preprocessor['mean'][::-1]
# one view per net
view = [
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.1, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='AutoAugment',
        policies='imagenet',
        hparams=dict(pad_val=128)),  # ImageNetPolicy's fillcolor
    dict(
        type='RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.05,
        max_area_ratio=0.12,
        aspect_range=(0.5, 1.5),
        mode='const',
        fill_color=bgr_mean),  # 0 after normalisation
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=num_students, transforms=[view]),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=257,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
# 8 GPUs x 32 images (the official batch of 256)
train_dataloader = dict(
    batch_size=32,
    drop_last=True,
    dataset=dict(pipeline=train_pipeline),
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

epochs = 120
optim_wrapper = dict(
    optimizer=dict(
        type='SGD',
        lr=0.1,
        momentum=0.9,
        nesterov=True,
        # 1e-4 x exp(1 / S - 1) (is_div_wd)
        weight_decay=1e-4 * 0.6065306597126334),
    # no decay on biases (BN weights are decayed, as officially)
    paramwise_cfg=dict(custom_keys={'.bias': dict(decay_mult=0.0)}))
param_scheduler = [
    # slow start: 5e-3 -> 0.1 linearly, per iteration
    dict(
        type='LinearLR', start_factor=0.05, by_epoch=True, begin=0, end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5,
        end=epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# the co-training weight: max(0.5 x epoch / 60, 0.005) before epoch 60
custom_hooks = [
    dict(
        type='mmvitplug.LossWeightScheduleHook', loss='loss_cot',
        start_factor=0., end_factor=1., end=60, min_factor=0.01)
]
auto_scale_lr = dict(base_batch_size=256, enable=True)
