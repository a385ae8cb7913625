# DeiT-Ti soft-distilled from RegNetY-16GF with the paper's soft settings
# (tau = 3, alpha = 0.1): loss = 0.9 CE(class token, labels)
# + 0.1 * tau^2 * KL(softmax(teacher / tau) || softmax(dist / tau)).
# The KL is reduced as in the official code (facebookresearch/deit
# losses.py: reduction='sum' divided by outputs_kd.numel() = N x 1000),
# kl_reduction='mean', with which the paper's numbers were obtained; the
# per-sample average of Eq. 2 (kl_reduction='batchmean') would weigh the
# teacher 1000x more.
# Teacher: configs/_teachers/regnety160_in1k.py.
# Source: DeiT paper, Section 5 (soft distillation, tau 3, alpha 0.1)
# and the official losses.py (KL reduction).
_base_ = './distill-hard-deit-tiny_8xb128_in1k.py'

model = dict(
    distiller=dict(
        losses=dict(
            loss_deit=dict(
                distill_type='soft', alpha=0.1, tau=3.0,
                kl_reduction='mean'))))
