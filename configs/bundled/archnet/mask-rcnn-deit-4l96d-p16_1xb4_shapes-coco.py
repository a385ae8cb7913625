# Mask R-CNN with a small Arch-Net ViT student (mmvitplug.ArchNetViT: 4
# blocks, 96 dims, 3 heads, patch 16; 2-bit LSQ weights, 4-bit LSQ
# activations, BatchNorm for LayerNorm) and mmvitplug.SimpleFPN on the
# bundled shapes (COCO format, 128x128 images, 3 classes): trains
# quantisation-aware from scratch on CPU through tools/train.py and
# evaluates box and mask mAP at the end. The bundled DeiT Mask R-CNN
# (bundled/deit/mask-rcnn-deit-4l96d-p16_1xb4_shapes-coco.py) with the
# student in place of the DeiT; the recipe at scale:
# archnet/mask-rcnn-deit-small_8xb2_coco.py.
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
        type='mmvitplug.ArchNetViT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=embed_dims * 4),
        img_size=128,
        w_bits=2,
        a_bits=4,
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(backbone_channel=embed_dims),
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
