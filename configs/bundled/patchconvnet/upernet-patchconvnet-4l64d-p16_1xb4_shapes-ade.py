# UperNet with a small PatchConvNet column (4 blocks, 64 channels, patch-16
# stem) and mmvitplug.SimpleFPN on the bundled shapes (ADE20K layout,
# 128x128 images, background + 3 classes): trains from scratch on CPU
# through tools/train.py and evaluates mIoU at the end. The recipe of
# configs/patchconvnet/upernet-patchconvnet-s60_8xb2_ade20k.py scaled down
# exactly as the bundled DeiT one (_base_/models/upernet_simplefpn-c64.py,
# _base_/schedules/shapes-ade_adamw_500i.py): only the backbone differs.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet_simplefpn-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)
embed_dims = 64

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.PatchConvNet',
        arch=dict(embed_dims=embed_dims, num_layers=4, init_values=0.1),
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(backbone_channel=embed_dims),
    decode_head=dict(num_classes=4),
    auxiliary_head=dict(num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
