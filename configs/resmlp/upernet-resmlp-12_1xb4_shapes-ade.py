# UperNet on a small plain ResMLP with mmvitplug.SimpleFPN on the bundled
# shapes (ADE20K layout, 128x128 images, background + 3 shapes): trains from
# scratch on CPU through tools/train.py and reports mIoU at the end. Same
# recipe as upernet-resmlp-12_8xb2_ade20k.py (ViTDet pyramid, UPerHead +
# FCN auxiliary head, AdamW with layer-wise lr decay), scaled down.
# FIXED INPUT SIZE: the cross-patch layers are 64x64 matrices over the 8x8
# patch grid of a 128x128 input: training crops are padded to 128x128
# (data_preprocessor size) and test images to at least 128x128
# (data_preprocessor test_cfg), then read in 128x128 sliding windows.
# Generate the data first: python tools/make_bundled_data.py
_base_ = '../cait/upernet-cait-xxs24_1xb4_shapes-ade.py'

crop_size = (128, 128)
embed_dims = 96

model = dict(
    # pad test images to at least crop_size (replaces size_divisor=16)
    data_preprocessor=dict(test_cfg=dict(_delete_=True, size=crop_size)),
    backbone=dict(
        type='mmvitplug.ResMLP',
        arch=dict(
            _delete_=True,  # token-mixing MLPs: no num_heads
            embed_dims=embed_dims,
            num_layers=4,
            feedforward_channels=embed_dims * 4,
            init_values=0.1)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(96, 96)))
