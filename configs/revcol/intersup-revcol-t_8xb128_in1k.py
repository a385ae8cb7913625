# RevCol-T trained on ImageNet-1k at 224 with the intermediate supervision
# of the paper (https://arxiv.org/abs/2212.11696; 82.2 top-1, 30M
# parameters in the official README). Recipe of the official
# configs/revcol_tiny_1k.yaml run as its INSTRUCTIONS.md says (8 GPUs x
# 128, lr 1e-3 x total batch / 1024 as its main.py scales it, warm-up and
# minimum lr scaled alike): AdamW, weight decay 0.05 except on 1-D tensors
# (biases, norms, layer scales; the shortcuts alpha are decayed, as
# officially), 20 linear warm-up epochs from 1e-5, cosine to 1e-6 over
# 300 epochs, no gradient clipping, stochastic depth 0.1, reversible
# columns (SAVEMM); RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25,
# Mixup 0.8 / CutMix 1.0, label smoothing 0.1, no repeated augmentation;
# evaluation resize 256 then centre crop 224. Intermediate supervision
# (INTER_SUPV, FCOE 3.0, CCOE 0.7): level 3 of every (columns / 4)-th
# column is classified (LayerNorm + Linear on the pooled map) and, but for
# the last, decoded back to the (mixed) image; loss = the official compound
# loss (mmvitplug.RevColClsHead). Not reproduced: the official ModelEma
# (decay 0.9999, evaluated beside the model).
# Source: official megvii-research/RevCol configs/revcol_tiny_1k.yaml,
# INSTRUCTIONS.md, main.py, loss.py, config.py defaults.
_base_ = [
    '../_base_/datasets/imagenet_deit.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

arch = 'revcol-t'
channels = (64, 128, 256, 512)
model = dict(
    type='mmvitplug.RevColClassifier',
    backbone=dict(
        type='mmvitplug.RevCol',
        arch=arch,
        out_columns=(0, 1, 2, 3),  # every num_columns // 4-th column
        reversible=True,
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='mmvitplug.RevColClsHead',
        num_classes=1000,
        in_channels=channels[-1],
        num_outputs=4,
        decoder_channels=channels,
        image_coef=3.0,
        cls_coef=0.7,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    ),
)

train_dataloader = dict(
    batch_size=128,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))

lr = 1e-3  # for a total batch of 1024, scaled by auto_scale_lr
warmup_lr = 1e-5
min_lr = 1e-6
warmup_epochs = 20
epochs = 300
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=lr, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(flat_decay_mult=0.0),
)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=warmup_lr / lr,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=min_lr,
        by_epoch=True,
        begin=warmup_epochs,
        end=epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024, enable=True)
