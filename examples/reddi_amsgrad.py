"""Reddi, Kale & Kumar (2018): Theorem 1 (C x every third step, else -x), Theorem 3
(C x with probability p, else -x) and the Section 5 synthetic problem; Adam's average regret
stays away from 0, AMSGrad's vanishes.

A thin wrapper over ``adadyn reproduce reddi-thm1 / reddi-thm3 / reddi-sec5`` (the code lives in
:mod:`adadyn.reproduce.reddi`): prints the measured numbers next to the paper's,
the verdict and its criterion, and writes the figures into --out.

Run: python examples/reddi_amsgrad.py [--out DIR] [--full] [--scale S]
"""
from adadyn import reproduce

NAMES = ('reddi-thm1', 'reddi-thm3', 'reddi-sec5')

if __name__ == "__main__":
    reproduce.example_main(NAMES, __doc__.splitlines()[0])
