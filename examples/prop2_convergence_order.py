"""Props. 1 and 2 of Ma, Wu & E: with the factors held (Prop. 1) or the memory rates
held (Prop. 2) RMSprop and Adam tend to their flows as eta -> 0; gaps and fitted orders
(1 for smooth starts, 1/2 for RMSprop from v0 = 0).

A thin wrapper over ``adadyn reproduce mwe-prop1 / mwe-prop2`` (the code lives in
:mod:`adadyn.reproduce.ma_wu_e_theory`): prints the measured numbers next to the paper's,
the verdict and its criterion, and writes the figures into --out.

Run: python examples/prop2_convergence_order.py [--out DIR] [--full] [--scale S]
"""
import argparse

from adadyn import reproduce

NAMES = ('mwe-prop1', 'mwe-prop2')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="examples_out", help="directory for the figures")
    p.add_argument("--full", action="store_true", help="the paper's sizes")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the default sizes")
    args = p.parse_args(argv)
    for name in NAMES:
        print(reproduce.run(name, args.out, full=args.full, scale=args.scale).text())


if __name__ == "__main__":
    main()
