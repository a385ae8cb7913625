# SplitMask pre-training of the tiny DeiT of
# splitmask-pix-deit-4l64d-p4_1xb64_digits.py with a HOG target
# (mmpretrain's MaskFeat HOGGenerator through mmvitplug.SplitMaskHOGTarget:
# 9 orientation bins per colour channel on 4x4-pixel cells, one cell per
# patch, a 16-pixel Gaussian window), everything else the same.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./splitmask-pix-deit-4l64d-p4_1xb64_digits.py']

model = dict(
    target_generator=dict(
        _delete_=True,
        type='mmvitplug.SplitMaskHOGTarget',
        patch_size=4,
        nbins=9,
        pool=4,
        gaussian_window=16))
