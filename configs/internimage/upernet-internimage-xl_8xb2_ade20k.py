# UperNet with an ImageNet-22k InternImage-XL backbone on ADE20K 640x640,
# 160k iterations (official upernet_internimage_xl_640_160k_ade20k.py: 55.0
# mIoU, 55.3 multi-scale in the README): the recipe of
# upernet-internimage-l_8xb2_ade20k.py (crops of 640, AdamW lr 2e-5, layer
# decay 0.94, gradient clipping 0.1, stochastic depth 0.4) on the
# InternImage-XL ImageNet-22k checkpoint.
# Source: official segmentation/configs/ade20k/upernet_internimage_xl_640_
# 160k_ade20k.py and segmentation/README.md.
_base_ = ['./upernet-internimage-l_8xb2_ade20k.py']

pretrained = ('https://huggingface.co/OpenGVLab/InternImage/resolve/main/'
              'internimage_xl_22k_192to384.pth')
channels = [192, 384, 768, 1536]
model = dict(
    backbone=dict(arch='internimage-xl', init_cfg=dict(checkpoint=pretrained)),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))
