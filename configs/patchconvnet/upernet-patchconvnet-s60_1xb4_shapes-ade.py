# UperNet with a small PatchConvNet column and mmvitplug.SimpleFPN on the
# bundled shapes (ADE20K layout, 128x128 images, background + 3 classes):
# trains from scratch on CPU through tools/train.py and evaluates mIoU at
# the end. Same recipe as upernet-patchconvnet-s60_8xb2_ade20k.py (ViTDet
# pyramid from the stride-16 map, UPerHead + FCN auxiliary head, AdamW with
# layer-wise lr decay), scaled down exactly as the DeiT one (64-channel
# pyramid and heads, 500 iterations): only the backbone differs, a column of
# 64 channels and 4 blocks behind a patch-16 stem.
# Generate the data first: python tools/make_bundled_data.py
_base_ = '../deit/upernet-deit-tiny_1xb4_shapes-ade.py'

embed_dims = 64

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.PatchConvNet',
        arch=dict(embed_dims=embed_dims, num_layers=4, init_values=0.1),
        out_type='featmap',
        out_indices=(3, ),
        drop_path_rate=0.),
    neck=dict(backbone_channel=embed_dims))
