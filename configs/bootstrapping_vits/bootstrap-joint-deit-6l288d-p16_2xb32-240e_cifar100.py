# Bootstrapping ViTs (https://arxiv.org/abs/2112.03552), joint mode, on
# CIFAR-100 from scratch: the official "ViT-S" (6 blocks of 288 dims, 9
# heads, MLP 1152, dropout 0.1, 16x16 patches at 224 px: 61.25 top-1 alone)
# trained with its agent CNN of separate weights (agent-small: the same
# blocks with full 3x3 convolutions (9 heads -> k = 3) and 1x1-conv MLPs,
# BatchNorms): 76.19 top-1 for the ViT in the official README.
# Source: official zhfeing/Bootstrapping-ViTs-pytorch
# config/cifar100/joint/agent-small-vit-small.yaml (+ its cnn/ and vit/
# sub-configs), vit_mutual/loss, utils/decay_strategy.py, data/aug.py.
#
# Every number, from the official code unless said otherwise:
# - data: RandomCrop 32 (padding 4) + flip, then resized to 224 (bilinear);
#   test images resized to 224; mean (0.5071, 0.4867, 0.4408), std (0.2023,
#   0.1994, 0.2010) (the official std is CIFAR-10's); no Mixup / CutMix /
#   label smoothing;
# - losses (weight_dict): CE on each network 1.0; KD both ways, KL(other ||
#   self) at T 4 x T^2, the other's logits detached, 1.0; hint (ViT learns
#   from the CNN, hint_cnn = 0): MSE between the LayerNormed patch tokens
#   of ViT block i (class token dropped) and the LayerNormed map of CNN
#   block i, for the 6 pairs, summed, x 10, times 1 - epoch / 240 (per
#   epoch);
# - AdamW lr 1e-3, weight decay 0.05 on every parameter, cosine per epoch
#   to 0 over 240 epochs, no warm-up; batch 64 (2 GPUs x 32); the ViT is
#   evaluated (`master: vit`).
# Not identical: the official code inits patch-embedding convolutions
# N(0, 1) and every MLP bias N(1e-6, 1) (`normal_(bias, 1e-6)`), here DeiT's
# / AgentCNN's inits; the hint's two LayerNorms are trained (the official
# loss module is never given to the optimizer, so they stay at 1 / 0); its
# AMP and SyncBN are `--amp` and norm_cfg=dict(type='SyncBN') here.
_base_ = [
    '../_base_/distillers/bootstrapping_vits.py',
    '../_base_/datasets/cifar100_224.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

arch = dict(
    embed_dims=288, num_layers=6, num_heads=9, feedforward_channels=1152)
_head = dict(type='LinearClsHead', num_classes=100, in_channels=288)
_pairs = list(range(arch['num_layers']))
model = dict(
    students=dict(
        vit=dict(
            backbone=dict(
                type='mmvitplug.DeiT', arch=arch, img_size=224,
                patch_size=16, drop_rate=0.1),
            head=_head),
        cnn=dict(
            backbone=dict(
                type='mmvitplug.AgentCNN', arch='agent-small',
                drop_rate=0.1, branch_drop_rate=0.1),
            head=_head)),
    distiller=dict(
        recorders=dict(
            # block outputs: ViT tokens (N, 1 + 196, 288), CNN maps
            # (N, 288, 14, 14)
            **{
                f'vit{i}': dict(source=f'students.vit.backbone.blocks.{i}')
                for i in _pairs
            },
            **{
                f'cnn{i}': dict(source=f'students.cnn.backbone.blocks.{i}')
                for i in _pairs
            }),
        losses=dict(loss_hint=dict(channels=288)),
        loss_inputs=dict(
            loss_hint=dict(
                preds=[
                    dict(recorder=f'vit{i}', connector=['patches', 'tokens'])
                    for i in _pairs
                ],
                target=[
                    dict(recorder=f'cnn{i}', connector='tokens')
                    for i in _pairs
                ]))))

data_preprocessor = dict(
    num_classes=100,
    mean=[129.3, 124.1, 112.4],  # 255 x (0.5071, 0.4867, 0.4408)
    std=[51.6, 50.8, 51.3],  # 255 x (0.2023, 0.1994, 0.2010)
    to_rgb=False)  # already RGB
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=224, backend='pillow',
         interpolation='bilinear'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-3, weight_decay=0.05, betas=(0.9, 0.999)))
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0., by_epoch=True, begin=0,
         end=240),
]
train_cfg = dict(by_epoch=True, max_epochs=240, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64, enable=True)
