# Teacher of the official-recipe TransKD configs: mmseg's SegFormer with
# MiT-B2 trained on Cityscapes (segformer_mit-b2_8xb1-160k_cityscapes-
# 1024x1024: 81.08 mIoU in mmseg's model zoo), its head's SyncBN as BN (a
# frozen teacher in eval mode). The official TransKD teacher is a SegFormer-
# B2 of its own training at 1024x512 (76.49 mIoU), published in its own
# layout, not mmseg's.
# Source: mmseg model zoo, configs/segformer/metafile.yaml
teacher = dict(
    type='mmseg.EncoderDecoder',
    data_preprocessor=dict(
        type='mmseg.SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='mmseg.MixVisionTransformer',
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[3, 4, 6, 3],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True),
    decode_head=dict(
        type='mmseg.SegformerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss', use_sigmoid=False,
            loss_weight=1.0)),
    test_cfg=dict(mode='whole'))
teacher_ckpt = (
    'https://download.openmmlab.com/mmsegmentation/v0.5/segformer/'
    'segformer_mit-b2_8x1_1024x1024_160k_cityscapes/'
    'segformer_mit-b2_8x1_1024x1024_160k_cityscapes_20211207_134205-'
    '6096669a.pth')
