"""Figure 6 of Ma, Wu & E: RMSprop on f = x^2/2 with eta = 0.01 settles on the 2-cycle
x = +-(eta/2 - eps/lambda) for every alpha; the fixed point period-doubles at eta = 2 eps/lambda.

A thin wrapper over ``adadyn reproduce mwe-fig6`` (the code lives in
:mod:`adadyn.reproduce.ma_wu_e`): prints the measured numbers next to the paper's,
the verdict and its criterion, and writes the figures into --out.

Run: python examples/figure6_rmsprop_two_cycle.py [--out DIR] [--full] [--scale S]
"""
import argparse

from adadyn import reproduce

NAMES = ('mwe-fig6',)


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
