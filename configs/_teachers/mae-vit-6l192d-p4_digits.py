# Teacher of the bundled-digits TinyMIM config: a 6-block ViT of 192 dims
# (6 heads) on 4x4 patches (one token per pixel of the 8x8 digit, upsampled
# 4x), pre-trained by mmpretrain's MAE without labels. The whole MAE
# (encoder, decoder, head) is the teacher so that its checkpoint loads
# completely; in tensor mode it runs the encoder unmasked
# (`MAE.extract_feat`: `backbone(inputs, mask=None)`), whose attention
# relations TinyMIM distils.
# Source: bundled-data smoke model, not a paper recipe. Trained by
# configs/bundled/tinymim/mae-vit-6l192d-p4_1xb64-100e_digits.py, whose last
# checkpoint is `teacher_ckpt`.
teacher = dict(
    type='MAE',
    backbone=dict(
        type='MAEViT',
        arch=dict(
            embed_dims=192, num_layers=6, num_heads=6,
            feedforward_channels=768),
        img_size=32,
        patch_size=4,
        mask_ratio=0.75),
    neck=dict(
        type='MAEPretrainDecoder',
        num_patches=64,
        patch_size=4,
        in_chans=3,
        embed_dim=192,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4,
        mlp_ratio=4.),
    head=dict(
        type='MAEPretrainHead',
        # each 4x4 patch of an aligned digit is one flat grey level:
        # per-patch normalised targets would be ~0 (nothing to predict)
        norm_pix=False,
        patch_size=4,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')))
teacher_ckpt = 'work_dirs/mae-vit-6l192d-p4_1xb64-100e_digits/epoch_100.pth'
teacher_heads = 6
