# Teacher of the function-matching configs on ImageNet-1k: BiT-M R152x2
# fine-tuned on ImageNet at 224, the teacher of "Knowledge distillation: A
# good teacher is patient and consistent" (https://arxiv.org/abs/2106.05237;
# big_vision configs/proj/distill/bit_i1k.py: 'BiT-M R152x2 imagenet2012
# ic224'), published as timm 'resnetv2_152x2_bit.goog_teacher_in21k_ft_in1k'
# (inputs scaled to [-1, 1]: mean = std = 127.5).
# Source: function-matching paper and big_vision config (teacher checkpoint).
#
# `teacher_ckpt` is the timm checkpoint in the layout of this classifier
# (the 1x1-conv classifier 'head.fc' becomes the linear head, every other key
# gets 'backbone.timm_model.'), made once with:
#
#   python -c "import timm, torch; sd = timm.create_model( \
#     'resnetv2_152x2_bit.goog_teacher_in21k_ft_in1k', \
#     pretrained=True).state_dict(); torch.save({'state_dict': { \
#     (k if k.startswith('head.fc.') else 'backbone.timm_model.' + k): \
#     (v.flatten(1) if k == 'head.fc.weight' else v) \
#     for k, v in sd.items()}}, 'checkpoints/bit-m-r152x2_teacher.pth')"
#
# The checkpoint is loaded completely when the model is built and is not
# saved in the student's checkpoints.
teacher = dict(
    type='ImageClassifier',
    backbone=dict(
        type='TIMMBackbone', model_name='resnetv2_152x2_bit',
        pretrained=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=4096))
teacher_ckpt = 'checkpoints/bit-m-r152x2_teacher.pth'
