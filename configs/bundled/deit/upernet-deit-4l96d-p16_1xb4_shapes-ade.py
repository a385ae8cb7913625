# UperNet with a small plain DeiT (4 blocks, 96 dims, 3 heads, patch 16) and
# mmvitplug.SimpleFPN on the bundled shapes (ADE20K layout, 128x128 images,
# background + 3 classes): trains from scratch on CPU in about 1.5 CPU
# minutes through tools/train.py and evaluates mIoU at the end (about 90%).
# The recipe of configs/deit/upernet-deit-small_8xb2_ade20k.py (ViTDet
# pyramid into UPerHead + FCN auxiliary head, AdamW with layer-wise lr
# decay) scaled down: _base_/models/upernet_simplefpn-c64.py and
# _base_/schedules/shapes-ade_adamw_500i.py.
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
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=3,
            feedforward_channels=embed_dims * 4),
        img_size=crop_size,
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(backbone_channel=embed_dims),
    decode_head=dict(num_classes=4),
    auxiliary_head=dict(num_classes=4))

train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
