# DeiT-Ti soft-distilled from RegNetY-16GF with the paper's soft settings
# (tau = 3, alpha = 0.1): loss = 0.9 CE(class token, labels)
# + 0.1 * tau^2 * KL(softmax(teacher / tau) || softmax(dist / tau)).
# The KL is averaged over samples (Eq. 2); the official code divides it by
# N x 1000 instead, i.e. weighs it 1000x less than this config.
# Teacher checkpoint: see distill-hard-deit-tiny_8xb128_in1k.py.
_base_ = './distill-hard-deit-tiny_8xb128_in1k.py'

model = dict(
    head=dict(loss=dict(distill_type='soft', alpha=0.1, tau=3.0)))
