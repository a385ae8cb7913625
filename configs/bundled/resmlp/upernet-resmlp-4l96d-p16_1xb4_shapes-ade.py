# UperNet on a small plain ResMLP (4 blocks, 96 dims, patch 16) with
# mmvitplug.SimpleFPN on the bundled shapes (ADE20K layout, 128x128 images,
# background + 3 shapes): trains from scratch on CPU through tools/train.py
# and reports mIoU at the end. The recipe of
# configs/resmlp/upernet-resmlp-12_8xb2_ade20k.py scaled down as the bundled
# DeiT one (_base_/models/upernet_simplefpn-c64.py,
# _base_/schedules/shapes-ade_adamw_500i.py).
# FIXED INPUT SIZE: the cross-patch layers are 64x64 matrices over the 8x8
# patch grid of a 128x128 input: training crops are padded to 128x128
# (data_preprocessor size) and test images to at least 128x128
# (data_preprocessor test_cfg), then read in 128x128 sliding windows.
# Source: bundled-data smoke config, not a paper recipe.
# Generate the data first: python tools/make_bundled_data.py
_base_ = [
    '../../_base_/models/upernet_simplefpn-c64.py',
    '../../_base_/datasets/shapes-ade.py',
    '../../_base_/schedules/shapes-ade_adamw_500i.py',
]

crop_size = (128, 128)
embed_dims = 96

model = dict(
    # pad test images to at least crop_size
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size=crop_size)),
    backbone=dict(
        type='mmvitplug.ResMLP',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            feedforward_channels=embed_dims * 4,
            init_values=0.1),
        img_size=crop_size,
        patch_size=16,
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(backbone_channel=embed_dims),
    decode_head=dict(num_classes=4),
    auxiliary_head=dict(num_classes=4),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(96, 96)))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
