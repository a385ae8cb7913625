# TinyMIM (https://arxiv.org/abs/2301.01296) pre-training of ViT-S/16 on
# ImageNet-1k by distilling the token relations of the official MAE ViT-B
# (83.0 top-1 after fine-tuning in the official README, vs 80.6 for MAE
# pre-training of ViT-S itself). Fine-tune the result with
# sup-deit-small_8xb128-100e_in1k.py.
# Source: official OliverRensu/TinyMIM (main_pretrain.py, engine_pretrain.py,
# models_tinymim.py, models_teacher.py; README pre-training command).
#
# Every number, from the official code unless said otherwise:
# - teacher: MAE ViT-B/16 (_teachers/mae-vit-base-p16_in1k.py), frozen, in
#   eval, relations of its 12th (last) block;
# - student: ViT-S/16 (deit-small: 384 dims, 6 heads, 12 blocks), drop path
#   0.1 in every block; its last block gives the relations with the
#   teacher's 12 heads (the official `last_heads=12`): the recorder splits
#   that block's q, k, v into 12 heads (`num_heads=12`) instead of building
#   the block with 12 heads (the block's own output is unused in
#   pre-training; the loss and its gradients are the same, tested against
#   the official code in tests/methods/test_tinymim.py);
# - relations from the block's normalised input: Q-K and V-V, per head,
#   softmax(. / sqrt(d)); loss KL(teacher || student) of each, summed over
#   tokens, averaged over images, heads and tokens, qk + vv, no label, no
#   masking;
# - views: one RandomResizedCrop(224, scale 0.2-1, bicubic) + flip per
#   image; the teacher sees it as it is, the student with ColorJitter(0.4,
#   0.4, 0.4) (MultiView: view 1 to the student, view 2 to the teacher);
# - AdamW betas (0.9, 0.95), lr 1.5e-4 x batch / 256 (2.4e-3 for 4096),
#   weight decay 0.05 except on 1-D parameters (biases, norms), 15 warm-up
#   epochs, cosine to 0 per iteration, 300 epochs, 32 GPUs x 128.
# Not identical: the student's position embedding is learned and its
# weights start as DeiT's (truncated normal; official: a fixed 2-D sin-cos
# position embedding and MAE's xavier init); the warm-up starts at 1e-4 x
# the peak lr (official: 0); fp32 unless `tools/train.py --amp` (the
# relations' softmaxes are float32 either way).
_base_ = [
    '../_base_/distillers/tinymim.py',
    '../_base_/datasets/imagenet_tinymim.py',
    '../_base_/schedules/tinymim_adamw_300e.py',
    '../_teachers/mae-vit-base-p16_in1k.py',
]
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)

# the student's last block gives its relations with the teacher's heads
_student = dict(
    source='backbone.blocks.11.attn', num_heads=_base_.teacher_heads)
_teacher = dict(source='teacher.backbone.blocks.11.attn')
model = dict(
    backbone=dict(arch='deit-small'),
    teacher=_base_.teacher,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict(
        recorders=dict(student=_student, teacher=_teacher)))
