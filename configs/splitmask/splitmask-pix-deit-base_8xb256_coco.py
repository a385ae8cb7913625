# SplitMask pre-training of a ViT-B/16 (DeiT-B arch) on the COCO train2017
# images alone (no labels; the paper's headline: pre-training on COCO then
# Mask R-CNN on COCO beats supervised ImageNet pre-training), then fine-tune
# with a Mask R-CNN config (init_cfg=dict(type='Pretrained', checkpoint=
# <exported backbone>, prefix='backbone.')).
# Source: the paper for the method and the data (COCO images only); the
# schedule is UNVERIFIED: BEiT's ImageNet optimisation, with the epochs
# scaled so that the number of steps is about ImageNet's 300 epochs
# (118k images: 3000 epochs), our assumption. Images are read from
# data/coco/train2017 with mmpretrain's CustomDataset (no labels).
_base_ = ['./splitmask-pix-deit-small_8xb256_in1k.py']

model = dict(
    backbone=dict(arch='deit-base'),
    head=dict(embed_dims=512, num_heads=16))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/coco',
        data_prefix='train2017',
        with_label=False,
        pipeline={{_base_.train_pipeline}}))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=100,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=100,
        end=3000, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=3000)
default_hooks = dict(checkpoint=dict(interval=100))
