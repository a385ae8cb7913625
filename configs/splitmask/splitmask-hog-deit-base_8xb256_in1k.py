# SplitMask pre-training of a ViT-B/16 (DeiT-B arch) on ImageNet-1k with a
# HOG target (MaskFeat's HOGGenerator: 9 bins, 8x8 cells, 16-pixel Gaussian
# window, 108 values per 16x16 patch), decoder 2 blocks of 512 channels.
# Source: as splitmask-pix-deit-small_8xb256_in1k.py (the paper for the
# method, BEiT's ImageNet recipe for the optimisation: UNVERIFIED against
# the paper's tables; HOG instead of the paper's DALL-E tokens).
_base_ = ['./splitmask-pix-deit-small_8xb256_in1k.py']

model = dict(
    backbone=dict(arch='deit-base'),
    head=dict(embed_dims=512, num_heads=16),
    target_generator=dict(
        _delete_=True,
        type='mmvitplug.SplitMaskHOGTarget',
        patch_size=16,
        nbins=9,
        pool=8,
        gaussian_window=16))
