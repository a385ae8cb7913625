# UperNet with an InternImage-S backbone on ADE20K 512x512, 160k
# iterations (official upernet_internimage_s_512_160k_ade20k.py: 50.1 mIoU,
# 50.9 multi-scale in the README): the recipe of
# upernet-internimage-t_8xb2_ade20k.py with stochastic depth 0.3 (lr 6e-5,
# layer decay 1.0 as for T); InternImage-S is post-norm with layer scales
# (loaded from the checkpoint).
# Source: official segmentation/configs/ade20k/upernet_internimage_s_512_
# 160k_ade20k.py and segmentation/README.md.
_base_ = ['./upernet-internimage-t_8xb2_ade20k.py']

pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_s_1k_224.pth')
channels = [80, 160, 320, 640]
model = dict(
    backbone=dict(
        arch='internimage-s',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))
