"""Reddi, Kale & Kumar (2018): Theorem 1 (C x every third step, else -x), Theorem 3
(C x with probability p, else -x) and the Section 5 synthetic problem; Adam's average regret
stays away from 0, AMSGrad's vanishes.

A thin wrapper over ``adadyn reproduce reddi-thm1 / reddi-thm3 / reddi-sec5`` (the code lives in
:mod:`adadyn.reproduce.reddi`): prints the measured numbers next to the paper's,
the verdict and its criterion, and writes the figures into --out.

Run: python examples/reddi_amsgrad.py [--out DIR] [--full] [--scale S]
"""
import argparse

from adadyn import reproduce

NAMES = ('reddi-thm1', 'reddi-thm3', 'reddi-sec5')


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
