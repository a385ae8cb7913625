# Mask R-CNN with a small ConViT (3 GPSA blocks, then the class token joins
# and one self-attention block; 96 dims, 4 heads, patch 16) and
# mmvitplug.SimpleFPN on the bundled shapes (COCO format, 128x128 images, 3
# classes): trains from scratch on CPU through tools/train.py and evaluates
# box and mask mAP at the end. The recipe of
# configs/convit/mask-rcnn-convit-small_8xb2_coco.py scaled down exactly as
# the bundled DeiT one (_base_/models/mask-rcnn_simplefpn-c64.py,
# _base_/schedules/shapes-coco_adamw_6e.py): only the backbone differs.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/mask-rcnn_simplefpn-c64.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]

embed_dims = 96

model = dict(
    backbone=dict(
        type='mmvitplug.ConViT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=4,
            feedforward_channels=embed_dims * 4,
            local_up_to_layer=3),
        img_size=128,
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(backbone_channel=embed_dims),
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
