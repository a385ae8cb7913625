# Mask R-CNN with a small CaiT (talking heads + LayerScale) and
# mmvitplug.SimpleFPN on the bundled shapes (COCO format, 128x128 images,
# 3 classes): trains from scratch on CPU through tools/train.py and
# evaluates box and mask mAP at the end. Same recipe as
# mask-rcnn-cait-xxs24_8xb2_coco.py (ViTDet pyramid from the last block,
# LayerNorm heads, AdamW with layer-wise lr decay), scaled down exactly as
# the DeiT one (4 blocks, 64-channel pyramid, mmdet's light 2-fc box head,
# 64 RoIs per image, 6 epochs): only the backbone differs.
# Generate the data first: python tools/make_bundled_data.py
_base_ = '../deit/mask-rcnn-deit-tiny_1xb4_shapes-coco.py'

embed_dims = 96

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.CaiT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=4,
            feedforward_channels=embed_dims * 4,
            init_values=0.1),
        img_size=128,
        out_type='featmap',
        out_indices=(3, ),
        drop_path_rate=0.))
