# UperNet on a PatchConvNet-S60 backbone (https://arxiv.org/abs/2112.13692)
# for ADE20K 512x512, 160k iterations. The single stride-16 map of the last
# trunk block feeds mmvitplug.SimpleFPN (ViTDet,
# https://arxiv.org/abs/2203.16527) whose four levels (strides 4, 8, 16, 32)
# go to mmseg's UPerHead; an FCN auxiliary head reads stride 16. AdamW with
# layer-wise lr decay (0.95 per block over the 60-block column).
_base_ = '../deit/upernet-deit-small_8xb2_ade20k.py'

# Classification checkpoint of the backbone. Placeholder: either an mmvitplug
# checkpoint (e.g. work_dirs/sup-patchconvnet-s60_8xb128_in1k/epoch_300.pth,
# keys 'backbone.*') or the official one from
# https://dl.fbaipublicfiles.com/deit/s60_224_1k.pth (converted on load).
pretrained = 'pretrain/s60_224_1k.pth'

model = dict(
    backbone=dict(
        _delete_=True,  # PatchConvNet takes no img_size
        type='mmvitplug.PatchConvNet',
        arch='patchconvnet-s60',
        out_type='featmap',
        out_indices=(59, ),
        drop_path_rate=0.1,
        with_cp=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.95))
