"""Figure 5 of Ma, Wu & E: signGD and RMSprop (alpha = 0.9) at several learning rates on
f = x^T A x / 2, A = U U^T, U 10x10 standard normal: fast initial convergence, then a
plateau that falls with eta.

A thin wrapper over ``adadyn reproduce mwe-fig5`` (the code lives in
:mod:`adadyn.reproduce.ma_wu_e`): prints the measured numbers next to the paper's,
the verdict and its criterion, and writes the figures into --out.

Run: python examples/figure5_signgd_rmsprop.py [--out DIR] [--full] [--scale S]
"""
import argparse

from adadyn import reproduce

NAMES = ('mwe-fig5',)


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
