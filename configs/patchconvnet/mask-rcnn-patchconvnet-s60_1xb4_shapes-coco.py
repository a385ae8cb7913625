# Mask R-CNN with a small PatchConvNet column and mmvitplug.SimpleFPN on the
# bundled shapes (COCO format, 128x128 images, 3 classes): trains from
# scratch on CPU through tools/train.py and evaluates box and mask mAP at the
# end. Same recipe as mask-rcnn-patchconvnet-s60_8xb2_coco.py (ViTDet
# pyramid from the stride-16 map, LayerNorm heads, AdamW with layer-wise lr
# decay), scaled down: 64 channels, 4 blocks, patch-16 stem.
# Generate the data first: python tools/make_bundled_data.py
_base_ = '../cait/mask-rcnn-cait-xxs24_1xb4_shapes-coco.py'

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
