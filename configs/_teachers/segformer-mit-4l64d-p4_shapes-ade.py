# Teacher of the bundled TransKD configs: the SegFormer of
# ./segformer-mit-b2_cityscapes.py (mmseg's EncoderDecoder, the student's
# normalisation) with one block per stage, a head of 64 channels without
# dropout for the 4 shapes classes and 128 px inputs, trained from scratch
# on the bundled shapes by configs/bundled/transkd/
# segformer-mit-4l64d-p4_1xb8_shapes-ade.py, whose last checkpoint is
# `teacher_ckpt`.
# Source: bundled-data smoke model, not a paper recipe.
_base_ = ['./segformer-mit-b2_cityscapes.py']

teacher = dict(
    data_preprocessor=dict(size=(128, 128)),
    backbone=dict(num_layers=[1, 1, 1, 1]),
    decode_head=dict(channels=64, dropout_ratio=0., num_classes=4))
teacher_ckpt = ('work_dirs/segformer-mit-4l64d-p4_1xb8_shapes-ade/'
                'iter_500.pth')
