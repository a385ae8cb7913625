# Copyright (c) mmvitplug contributors.
"""tools/zoo/sync.py's formatting and claim verdicts, by hand."""
from _builders import load_tool

sync = load_tool('zoo/sync.py')


def seeds(*xs):
    return dict(values={i: x for i, x in enumerate(xs)}, tool='t')


def test_claim_verdicts_seed_by_seed():
    claim = dict(Better='higher')
    assert sync.claim_verdict(claim, seeds(90, 91), seeds(80, 85)) == 'holds'
    assert sync.claim_verdict(claim, seeds(70, 71), seeds(80, 85)) == \
        'does not hold'
    # one seed each way: no consistent difference, whatever the means
    assert sync.claim_verdict(claim, seeds(89.4, 83.8), seeds(88.3, 90.5)) \
        == 'mixed'
    # a tie on a seed is not a win
    assert sync.claim_verdict(claim, seeds(88.3, 88.3), seeds(88.3, 88.3)) \
        == 'does not hold'
    lower = dict(Better='lower')
    assert sync.claim_verdict(lower, seeds(1, 2), seeds(3, 4)) == 'holds'
    # different seeds: the means decide
    unpaired = dict(values={0: 90.}, tool='t')
    assert sync.claim_verdict(claim, unpaired, seeds(80, 85)) == 'holds'
    assert sync.claim_verdict(claim, dict(value=70.), seeds(80, 85)) == \
        'does not hold'


def test_claim_verdicts_within_a_tolerance():
    same = dict(Better='higher', Within=1.0)
    assert sync.claim_verdict(same, seeds(97.2, 98.1), seeds(98.3, 98.1)) \
        == 'holds'  # 0.55 below
    assert sync.claim_verdict(same, seeds(87.3), seeds(88.6)) == \
        'does not hold'  # 1.3 below
    lower = dict(Better='lower', Within=0.1)
    assert sync.claim_verdict(lower, seeds(1.05), seeds(1.0)) == 'holds'
    assert sync.claim_verdict(lower, seeds(1.2), seeds(1.0)) == \
        'does not hold'


def test_record_formats():
    assert sync.fmt_record(seeds(88.3, 90.5)) == '88.3 / 90.5 (89.4)'
    assert sync.fmt_record(dict(value=1.03), ratio=True) == '1.03x'
    assert sync.fmt_record(dict(range=[0.88, 1.31]), ratio=True) == \
        '0.88-1.31x'
    marked = dict(value=0.775, transcribed='README')
    assert sync.fmt_record(marked) == '0.775' + sync.TRANSCRIBED_MARK
    assert sync.fmt_num(1.8e-7) == '1.8e-07'
    assert sync.fmt_num(0) == '0'
