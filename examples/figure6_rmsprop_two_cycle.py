"""Figure 6 of Ma, Wu & E: RMSprop on f = x^2/2 with eta = 0.01 settles on the 2-cycle
x = +-(eta/2 - eps/lambda) for every alpha; the fixed point period-doubles at eta = 2 eps/lambda.

A thin wrapper over ``adadyn reproduce mwe-fig6`` (the code lives in
:mod:`adadyn.reproduce.ma_wu_e`): prints the measured numbers next to the paper's,
the verdict and its criterion, and writes the figures into --out.

Run: python examples/figure6_rmsprop_two_cycle.py [--out DIR] [--full] [--scale S]
"""
from adadyn import reproduce

NAMES = ('mwe-fig6',)

if __name__ == "__main__":
    reproduce.example_main(NAMES, __doc__.splitlines()[0])
