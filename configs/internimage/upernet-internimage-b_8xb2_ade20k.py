# UperNet with an InternImage-B backbone on ADE20K 512x512, 160k
# iterations (official upernet_internimage_b_512_160k_ade20k.py: 50.8 mIoU,
# 51.3 multi-scale in the README): the recipe of
# upernet-internimage-t_8xb2_ade20k.py with stochastic depth 0.4 (lr 6e-5,
# layer decay 1.0 as for T); InternImage-B is post-norm with layer scales
# (loaded from the checkpoint).
# Source: official segmentation/configs/ade20k/upernet_internimage_b_512_
# 160k_ade20k.py and segmentation/README.md.
_base_ = ['./upernet-internimage-t_8xb2_ade20k.py']

pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_b_1k_224.pth')
channels = [112, 224, 448, 896]
model = dict(
    backbone=dict(
        arch='internimage-b',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))
