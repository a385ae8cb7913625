# DynamicViT (Rao et al., NeurIPS 2021, https://arxiv.org/abs/2106.02034)
# at digits scale on ConViT with 64 tokens: the patch-4 digits ConViT
# teacher (bundled/convit/sup-convit-4l192d-p4_1xb16_digits.py: 4 blocks
# of 192 dims, 4 heads, gated positional self-attention in blocks 0-2, the
# class token joining before block 3, an 8 x 8 grid of 64 patch tokens)
# fine-tuned into mmvitplug.DynamicViT with keep predictors before blocks
# 1, 2 and 3 (pruning_loc fractions 0.25, 0.5, 0.75), rho = 0.7: 44, 31
# and 21 of the 64 patch tokens are kept at inference (int(64 x 0.7^l)),
# each at its grid position for the positional attention; the class token
# joins the 21 kept ones. Everything else (losses, lr scale, frozen
# warm-up, 6 epochs, batch 16, the token distillation on the final
# normalised tokens) as the DeiT config
# dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py (see it for the loss and
# optimizer). Student initialised from the teacher (backbone and head); the
# teacher is the same frozen network.
# Baseline on the same schedule:
# dynamicvit-unpruned-convit-4l192d-p4_1xb16-6e_digits.py.
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/convit/sup-convit-4l192d-p4_1xb16_digits.py
_base_ = ['./dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py']

# the last checkpoint of the teacher's 15-epoch schedule
teacher_ckpt = 'work_dirs/sup-convit-4l192d-p4_1xb16_digits/epoch_15.pth'
convit_backbone = dict(
    type='mmvitplug.ConViT',
    arch=dict(
        embed_dims=192, num_layers=4, num_heads=4, feedforward_channels=768,
        local_up_to_layer=3),
    img_size=32,
    patch_size=4)
teacher = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=convit_backbone,
    head=_base_.deit_head)
model = dict(
    backbone=dict(
        backbone=dict(
            convit_backbone,
            _delete_=True,
            init_cfg=dict(
                type='Pretrained', checkpoint=teacher_ckpt,
                prefix='backbone.'))),
    head=dict(init_cfg=dict(checkpoint=teacher_ckpt)),
    teacher=teacher,
    teacher_ckpt=teacher_ckpt)
