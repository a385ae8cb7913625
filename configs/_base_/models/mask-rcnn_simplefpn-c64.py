# Mask R-CNN on a plain backbone with mmvitplug.SimpleFPN, scaled down for
# the bundled shapes (128x128 images, shapes of 13-70 px) trained from
# scratch on CPU. The layout of mask-rcnn_simplefpn.py (ViTDet pyramid from
# the last block, LayerNorm in the neck and the mask head) with a 64-channel
# pyramid, mmdet's light 2-fc box head, a 2-conv 32-channel mask head,
# anchors of 16-256 px, fewer RoIs and proposals. Bundled-data smoke model,
# not a paper recipe. A config sets model.backbone (type, arch, out_indices
# = its last block), the neck's backbone_channel and the number of classes.
# The heads are those of mask-rcnn_fpn-c64.py.
_base_ = ['mask-rcnn_fpn-c64.py']

model = dict(
    neck=dict(
        _delete_=True,
        type='mmvitplug.SimpleFPN',
        out_channels={{_base_.channels}},
        num_outs=5,
        norm_cfg={{_base_.norm_cfg}}))
