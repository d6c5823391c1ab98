"""AdaFix (Bae, Ryu & Shin) on f = 1 - cos(x1^2 + x2^2) from (1.0, 0.3), eta = 0.5:
in full batch Adam does not leave the bowl (max |x| after step 100 is 0.031); with small
gradient noise it does in a share of seeds while AMSGrad and AdaFix stay.

A thin wrapper over ``adadyn reproduce brs-fig1 / brs-noise`` (the code lives in
:mod:`adadyn.reproduce.bae_ryu_shin`): prints the measured numbers next to the paper's,
the verdict and its criterion, and writes the figures into --out.

Run: python examples/adafix_cosine_bowl.py [--out DIR] [--full] [--scale S]
"""
from adadyn import reproduce

NAMES = ('brs-fig1', 'brs-noise')

if __name__ == "__main__":
    reproduce.example_main(NAMES, __doc__.splitlines()[0])
