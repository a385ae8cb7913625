# Mask R-CNN with a small LIT (32 / 64 / 96 / 128 channels, 1 / 1 / 2 / 1
# blocks, attention in the last two stages) on the bundled shapes (COCO
# format, 128x128 images, 3 classes): trains from scratch on CPU through
# tools/train.py and evaluates box and mask mAP at the end. The four stage
# maps (LIT-Ti style without a class token, as the official detection
# backbone: position embeddings made for 128x128 resized to other grids; the
# last map through the final norm) go to mmdet's FPN (64 channels,
# num_outs=5: the stride-64 level by max-pooling), heads scaled down
# (_base_/models/mask-rcnn_fpn-c64.py); the schedule of the other bundled
# Mask R-CNN configs (_base_/schedules/shapes-coco_adamw_6e.py).
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/mask-rcnn_fpn-c64.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]

model = dict(
    backbone=dict(
        type='mmvitplug.LIT',
        arch=dict(
            embed_dims=(32, 64, 96, 128),
            depths=(1, 1, 2, 1),
            num_heads=(1, 2, 3, 4),
            mlp_ratios=(8, 8, 4, 4),
            has_msa=(0, 0, 1, 1),
            position='absolute',
            norm_eps=1e-6),
        with_cls_token=False,
        img_size=128,
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[32, 64, 96, 128]),
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
