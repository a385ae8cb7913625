# Fine-tune the ImageNet-22k InternImage-L at 384 on ImageNet-1k
# (https://arxiv.org/abs/2211.05778; 87.7 top-1, 223M parameters in the
# official README). Recipe of the official
# classification/configs/internimage_l_22kto1k_384.yaml and its config.py
# defaults, run as the README does (GPUS=32 ... --batch-size 16: 32 x 16, a
# total batch of 512): 20 epochs, AdamW (eps 1e-8), lr 2e-5 x total batch / 512
# (main.py's scaling, auto_scale_lr here), weight decay 0.05 except on 1-D
# parameters and biases, 2 linear warm-up epochs from 0 (1e-8 x lr), cosine to
# 0, gradient-norm clipping 5.0, layer-wise lr decay 0.9, the DCNv3 offset
# projections (parameters named '*offset*') at 0.1x their lr (DCN_LR_MUL),
# stochastic depth 0.1, gradient checkpointing (USE_CHECKPOINT), model EMA
# (decay 0.9999 every step: EMAHook, momentum 1e-4, buffers averaged as timm's
# ModelEma; the EMA weights are validated, the official code validates both);
# data: the timm pipeline at 384 (RandomResizedCrop 384 bicubic, flip,
# rand-m9-mstd0.5-inc1), no random erasing, no Mixup / CutMix, label smoothing
# 0.3 (plain cross-entropy on smoothed labels, timm's
# LabelSmoothingCrossEntropy); evaluation resize 384 then centre crop 384
# (TEST.CROP, crop ratio 1.0). The yaml sets AMP_OPT_LEVEL O0, but main.py's
# --amp-opt-level (default O1) overrides it: the official run uses fp16 AMP:
# add --amp on GPUs.
# Approximations (mmengine cannot express them):
# - layer-wise decay: our layer depths are the official detection /
#   segmentation ids (block j at depth j + 1, the stem at 0, the head at
#   the top), one level more between the last block and the head than the
#   official classification keywords (lr_decay_keywords: the last block at
#   ratio 1 as the head, the stem at the first block's ratio): every
#   backbone lr here is 0.9x the official one (the stem's 0.81x);
# - the head: the official code loads the 22k classifier and keeps the
#   rows of the 1000 ImageNet-1k classes (meta_data/map22kto1k.txt); here
#   conv_head is loaded from the checkpoint and fc (21841 classes there) is
#   re-initialised as the official RAND_INIT_FT_HEAD does (a fresh
#   truncated normal std 0.02 x 0.001, zero bias). A checkpoint with a
#   1000-class head (an ImageNet-1k InternImage-L) loads whole.
# The README links its released 87.7 model to
# configs/without_lr_decay/internimage_l_22kto1k_384.yaml ("the paper
# results were obtained from models trained with configs in
# configs/without_lr_decay"): the same recipe without layer-wise decay,
# where the official optimizer.py applies no DCN lr multiplier either
# (set layer_decay_rate=1.0 and drop the offset custom keys for it).
#
# `pretrained`: the official ImageNet-22k checkpoint (converted on load,
# backbone and conv_head), or an mmvitplug one.
# Source: official classification/configs/internimage_l_22kto1k_384.yaml,
# config.py, main.py, optimizer.py, utils.py (load_pretrained),
# models/intern_image.py (lr_decay_keywords), dataset/build.py and
# README.md (32 GPUs x 16).
pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_l_22k_192to384.pth')
img_size = 384

_base_ = ['./sup-internimage-t_8xb512_in1k.py']

model = dict(
    backbone=dict(
        arch='internimage-l',
        drop_path_rate=0.1,
        with_cp=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(
        in_channels=1280,
        # plain cross-entropy on labels smoothed by 0.3 (no Mixup)
        loss=dict(label_smooth_val=0.3),
        # a fresh fc x 0.001 (RAND_INIT_FT_HEAD), then conv_head (and a
        # 1000-class fc) from the checkpoint
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=2e-5, bias=0.),
            dict(
                type='mmvitplug.Pretrained',
                checkpoint=pretrained,
                prefix='head.',
                converter='InternImage'),
        ]),
)

# AUG.MIXUP / CUTMIX 0
data_preprocessor = dict(batch_augments=None)

# timm's create_transform at 384: the base pipeline without random erasing
# (AUG.REPROB 0)
train_pipeline = [
    dict(t, scale=img_size) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline if t['type'] != 'RandomErasing'
]
test_pipeline = [
    dict(t, scale=img_size) if t['type'] == 'ResizeEdge' else
    dict(t, crop_size=img_size) if t['type'] == 'CenterCrop' else t
    for t in _base_.test_pipeline
]
# 32 GPUs x 16 images
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

lr = 2e-5  # for a total batch of 512 (BASE_LR), scaled by auto_scale_lr
warmup_epochs = 2
epochs = 20
optim_wrapper = dict(
    optimizer=dict(lr=lr),
    constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.9,
        flat_decay_mult=0.0,
        # DCN_LR_MUL 0.1 on '*offset*' (the bias stays undecayed: a matched
        # custom key skips the 1-D rule); the lr multipliers compose with
        # the layer decay
        custom_keys={
            '.dcn.offset.weight': dict(lr_mult=0.1),
            '.dcn.offset.bias': dict(lr_mult=0.1, decay_mult=0.0),
        }))
# WARMUP_LR 0 (mmengine's LinearLR cannot start at exactly 0: it divides
# by the start factor; 1e-8 x lr is 0 in practice), MIN_LR 0
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-8,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=epochs)
auto_scale_lr = dict(base_batch_size=512, enable=True)
