"""Props. 1 and 2 of Ma, Wu & E: with the factors held (Prop. 1) or the memory rates
held (Prop. 2) RMSprop and Adam tend to their flows as eta -> 0; gaps and fitted orders
(1 for smooth starts, 1/2 for RMSprop from v0 = 0).

A thin wrapper over ``adadyn reproduce mwe-prop1 / mwe-prop2`` (the code lives in
:mod:`adadyn.reproduce.ma_wu_e_theory`): prints the measured numbers next to the paper's,
the verdict and its criterion, and writes the figures into --out.

Run: python examples/prop2_convergence_order.py [--out DIR] [--full] [--scale S]
"""
from adadyn import reproduce

NAMES = ('mwe-prop1', 'mwe-prop2')

if __name__ == "__main__":
    reproduce.example_main(NAMES, __doc__.splitlines()[0])
