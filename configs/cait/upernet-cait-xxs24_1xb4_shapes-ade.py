# UperNet on a small CaiT (talking heads + LayerScale) with
# mmvitplug.SimpleFPN on the bundled shapes (ADE20K layout, 128x128 images,
# background + 3 shapes): trains from scratch on CPU through tools/train.py
# and reports mIoU at the end. Same recipe as upernet-cait-xxs24_8xb2_ade20k.py
# (ViTDet pyramid, UPerHead + FCN auxiliary head, AdamW with layer-wise lr
# decay), scaled down exactly as the DeiT one (4 blocks, 64-channel pyramid
# and heads, 500 iterations): only the backbone differs. The position
# embedding is interpolated to any input grid, so whole test images go
# through the model (padded to a multiple of the patch size).
# Generate the data first: python tools/make_bundled_data.py
_base_ = '../deit/upernet-deit-tiny_1xb4_shapes-ade.py'

crop_size = (128, 128)
embed_dims = 96

model = dict(
    data_preprocessor=dict(test_cfg=dict(size_divisor=16)),
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CaiT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=4,
            feedforward_channels=embed_dims * 4,
            init_values=0.1),
        img_size=crop_size,
        patch_size=16,
        out_type='featmap',
        out_indices=(3, ),
        drop_path_rate=0.),
    test_cfg=dict(mode='whole'))
