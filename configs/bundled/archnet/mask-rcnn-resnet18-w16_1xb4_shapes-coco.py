# Mask R-CNN with an Arch-Net ResNet-18 student (mmvitplug.ArchNetResNet:
# 2-bit 3x3 convolutions, 4-bit activations, concatenations instead of
# additions; 16 / 32 / 48 / 64 channels) on the bundled shapes (COCO
# format, 128x128 images, 3 classes): trains quantisation-aware from
# scratch on CPU through tools/train.py and evaluates box and mask mAP at
# the end. The four stage maps (strides 4-32) go to mmdet's FPN (64
# channels, num_outs=5: the stride-64 level by max-pooling), heads scaled
# down (_base_/models/mask-rcnn_fpn-c64.py); the schedule of the other
# bundled Mask R-CNN configs (_base_/schedules/shapes-coco_adamw_6e.py); BN
# trained (nothing is pretrained). The recipe at scale:
# archnet/mask-rcnn-resnet18_8xb2_coco.py.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/mask-rcnn_fpn-c64.py',
    '../../_base_/datasets/shapes-coco.py',
    '../../_base_/schedules/shapes-coco_adamw_6e.py',
]

channels = [16, 32, 48, 64]
model = dict(
    backbone=dict(
        type='mmvitplug.ArchNetResNet',
        arch=dict(depths=[2, 2, 2, 2], widths=channels),
        w_bits=2,
        a_bits=4,
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=channels),
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
