"""Issue 19 item 7: the command line reads as documented (integral floats, defaults in
--help, suggestions, every command in docs/cli.md, readable flow reprs and stability output)."""
import argparse
import re
from pathlib import Path

import numpy as np
import pytest

import adadyn as ad
from adadyn.cli import build_parser, main
from adadyn.commands.errors import whole_number
from adadyn.commands.stability import clean, stability_report

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text,value", [("10000", 10000), ("1e4", 10000), ("1.5e4", 15000), ("1E4", 10000),
                                        (" 7 ", 7), ("-3", -3), ("2.0", 2)])
def test_whole_numbers_accept_integral_floats(text, value):
    assert whole_number(text) == value and isinstance(whole_number(text), int)


@pytest.mark.parametrize("text", ["10.5", "1e4.5", "1e-3", "abc", "nan", "inf", ""])
def test_other_numbers_are_refused_naming_the_option(text, capsys):
    with pytest.raises(argparse.ArgumentTypeError):
        whole_number(text)
    assert main(["run", "--steps", text]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument --steps" in err[0] and "whole number" in err[0]


def test_every_integer_option_of_every_command_takes_1e3():
    p = build_parser()
    sub = p._subparsers._group_actions[0].choices
    n = 0
    for name, sp in sub.items():
        for a in sp._actions:
            assert a.type is not int, (name, a.option_strings)
            n += a.type is whole_number
    assert n >= 20
    assert p.parse_args(["run", "--steps", "1e4", "--record-every", "1e2"]).steps == 10000


def test_help_shows_every_default():
    p = build_parser()
    for name, sp in p._subparsers._group_actions[0].choices.items():
        text = " ".join(sp.format_help().split("options:", 1)[-1].split())
        for a in sp._actions:
            d = a.default
            if not a.option_strings or any(d is x for x in (None, False, True, argparse.SUPPRESS)):
                continue
            assert "default" in (a.help or "").lower(), (name, a.option_strings, a.help)
        if name in ("run", "sweep", "flow"):
            for opt in ("--steps", "--eta", "--optimizer") if name != "flow" else ("--T", "--etas", "--optimizer"):
                block = text.split(f" {opt} ", 1)[1][:200]
                assert "default" in block.split(" --", 1)[0], (name, opt, block)


def test_misspelt_option_gets_a_suggestion(capsys):
    assert main(["run", "--optimiser", "adam"]) == 2
    err = capsys.readouterr().err.strip()
    assert "did you mean --optimizer?" in err and len(err.splitlines()) == 1
    assert main(["sweep", "--axs", "eta=1:2:2", "--out", "x"]) == 2
    assert "did you mean --axis?" in capsys.readouterr().err


def test_docs_command_table_lists_every_command():
    text = (ROOT / "docs" / "cli.md").read_text()
    table = text.split("| command | what it does |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.M))
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    assert listed == commands, (commands - listed, listed - commands)


def test_flow_repr_reads_as_the_numbers_meant():
    eta = 0.01
    fl = ad.flows.AdamFlow(a=(1 - 0.99) / eta, b=(1 - 0.9) / eta)
    assert fl.a != 1.0 and fl.b != 10.0  # the rounding the repr hides
    assert repr(fl) == "AdamFlow(a=1, b=10, eps=1e-08, bias_correction=True, eps_inside=False)"
    assert repr(ad.flows.AdamFlow(a=1.23456789012345, b=2.0)).startswith("AdamFlow(a=1.23456789012, b=2,")


def test_clean_zeroes_rounding_noise_relative_to_the_scale():
    np.testing.assert_array_equal(clean([-3.5e-41, 1.0, 2.5e-14]), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(clean([1.4e8, -6.4e-9, -1.9e-5]), [1.4e8, 0.0, -1.9e-5])
    np.testing.assert_array_equal(clean([1e-20, 3e-20], scale=1e-20), [1e-20, 3e-20])  # tiny but the scale
    z = clean(np.array([0.5 + 1e-30j, -0.25 + 0.1j]))
    assert z[0] == 0.5 + 0j and z[1] == -0.25 + 0.1j
    assert str(clean([-1e-30])[0]) == "0.0"  # no -0


def test_stability_report_has_no_duplicate_dimension_noise_or_unexplained_x1():
    obj = ad.objectives.random_quadratic(3, seed=0)
    text = stability_report(ad.RMSprop(0.01, alpha=0.9), obj, np.full(3, 0.1))
    first = text.splitlines()[0]
    assert first.count("d=3") + first.count("d = 3") == 1, first
    assert not re.search(r"e-(1[5-9]|[2-9]\d)\b", text), text  # no rounding-level values
    assert "x* = [0, 0, 0]" in text
    assert "2-cycle (coordinate 1 of x and v at its two points): x_1 = " in text
    one = stability_report(ad.RMSprop(0.01, alpha=0.9), ad.objectives.quadratic(np.eye(1)), np.array([0.3]))
    assert "(d = 1)" in one.splitlines()[0] and "coordinate 1" not in one
