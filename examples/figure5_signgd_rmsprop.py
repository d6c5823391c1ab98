"""Figure 5 of Ma, Wu & E: signGD and RMSprop (alpha = 0.9) at several learning rates on
f = x^T A x / 2, A = U U^T, U 10x10 standard normal: fast initial convergence, then a
plateau that falls with eta.

A thin wrapper over ``adadyn reproduce mwe-fig5`` (the code lives in
:mod:`adadyn.reproduce.ma_wu_e`): prints the measured numbers next to the paper's,
the verdict and its criterion, and writes the figures into --out.

Run: python examples/figure5_signgd_rmsprop.py [--out DIR] [--full] [--scale S]
"""
from adadyn import reproduce

NAMES = ('mwe-fig5',)

if __name__ == "__main__":
    reproduce.example_main(NAMES, __doc__.splitlines()[0])
