# CvT-13 trained from scratch on CIFAR-100 with the DRLoc loss, the paper's
# small-dataset setting (Liu et al. 2021, https://arxiv.org/abs/2106.03746:
# every small dataset is trained for 100 epochs at 224 px with the same
# recipe). Everything as drloc-cvt-13_8xb128_in100.py (see there: DRLoc
# settings, optimiser, schedule, augmentation, the documented differences
# from the official code) except the data: CIFAR-100 (mmpretrain's
# CIFAR100, RGB arrays) upsampled as the official data/build.py does
# through timm's create_transform at 224 px: RandomResizedCrop 224 of the
# 32 x 32 image (bicubic) and the same flip / RandAugment / random erasing;
# evaluation resize 256 + centre crop 224 (TEST.CROP); ImageNet mean / std
# for every dataset (timm IMAGENET_DEFAULT_MEAN / STD).
# Source: paper (small datasets, 100 epochs) and official yhlleo/VTs-Drloc
# 6ac2c44 train.sh (DATASET=cifar-100, IMG_SIZE=224), data/build.py.
_base_ = ['./drloc-cvt-13_8xb128_in100.py']

dataset_type = 'CIFAR100'
data_root = 'data/cifar100'
rgb_mean = [123.675, 116.28, 103.53]
rgb_std = [58.395, 57.12, 57.375]
data_preprocessor = dict(to_rgb=False)  # the CIFAR arrays are RGB

train_pipeline = [
    dict(t, hparams=dict(t['hparams'],
                         pad_val=[round(x) for x in rgb_mean]))
    if t['type'] == 'RandAugment' else
    dict(t, fill_color=rgb_mean, fill_std=rgb_std)
    if t['type'] == 'RandomErasing' else t
    for t in _base_.train_pipeline if t['type'] != 'LoadImageFromFile'
]
test_pipeline = [
    t for t in _base_.test_pipeline if t['type'] != 'LoadImageFromFile'
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
