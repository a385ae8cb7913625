# Baseline of dynamicvit-convit-4l192d-p4_1xb16-6e_digits.py: the same
# patch-4 digits ConViT WITHOUT token pruning (no predictors), initialised
# from the same teacher and fine-tuned on the same schedule, data and
# distillation (as dynamicvit-unpruned-deit-4l192d-p8_1xb16-6e_digits.py:
# 1.0 CE + 0.5 KL(teacher logits) + 0.5 MSE of every final normalised
# token). The unpruned model of the claim "pruned top-1 within 1 point of
# the unpruned fine-tuned model".
# Source: bundled-data smoke config, not a paper recipe.
# Train the teacher first:
#   python tools/train.py \
#       configs/bundled/convit/sup-convit-4l192d-p4_1xb16_digits.py
_base_ = ['./dynamicvit-unpruned-deit-4l192d-p8_1xb16-6e_digits.py']

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
        convit_backbone,
        _delete_=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=teacher_ckpt, prefix='backbone.')),
    head=dict(init_cfg=dict(checkpoint=teacher_ckpt)),
    teacher=teacher,
    teacher_ckpt=teacher_ckpt)
