"""Fuzzing the command line (issue 9, item 9): random and adversarial argument lists for every
subcommand, run in-process. Property: exit code 0 or 2; on 2, exactly one stderr line (an
error); on 0, stderr holds only warning lines; never a traceback; bounded time (hypothesis
deadline). Step counts are drawn small or out of range so that every case stays fast."""
import os
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adadyn.cli import main

FUZZ = settings(max_examples=int(os.environ.get("ADADYN_FUZZ_EXAMPLES", "25")), deadline=60_000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large], derandomize=True)

NUMBERS = ["0", "-0", "1", "-1", "2", "0.5", "1e-3", "0.01", "1e-300", "1e300", "1e309", "-1e309", "nan", "NaN",
           "inf", "-inf", "9" * 40, "-" + "9" * 30, "1e", "0x10", " 3 ", "٣", "", "-", "--", "1,2", "1:2:3", "None",
           "True", "é", "\t", "1" * 500]
FORMULAS = ["x1**2", "x1**2 + x2**2", "1 - cos(x1**2 + x2**2)", "__import__('os').system('true')",
            "x1.__class__", "lambda: 0", "x1 +", "", "(" * 300 + "x1" + ")" * 300, "exec('1')", "x1; x2",
            "x0", "open('/etc/passwd')", "x1**-1", "sqrt(-1)*x1", "\u202ex1", "x1\nx2", "y1**2"]
WORDS = ["adam", "rmsprop", "gd", "signgd", "lion", "amsgrad", "adagrad", "adafix", "sgd", "quadratic",
         "quadratic-1d", "random-quadratic", "rosenbrock", "cosine", "cosine-bowl", "expr", "rates", "factors",
         "eta=1e-3:1e-1:2", "a=0.5:5:2", "eps=1e-8,1e-6", "beta2=0.9,0.99", "zeta=1", "eta=", "=", "a=1:2",
         "eta=1e-3:1e-1:99999", "a=0:1:2:lin", "b=1,1"]
AXES = [w for w in WORDS if "=" in w]
UNKNOWN = ["--no-such", "-x", "--", "-", "--steps=", "--eta=1", "--help", "--version", "extra", "--objective=expr"]


PLAUSIBLE = ["0.9", "0.99", "0.5", "1e-3", "1e-8", "2", "10", "0.01", "1", "0"]


def value(extra=()):
    """Mostly plausible values (so that runs happen), else adversarial ones."""
    return st.one_of(st.sampled_from(PLAUSIBLE), st.sampled_from(PLAUSIBLE), st.sampled_from(NUMBERS + list(extra)),
                     st.floats(allow_nan=True).map(repr), st.integers(-10 ** 20, 10 ** 20).map(str),
                     st.text(max_size=12))


SMALL_STEPS = st.one_of(st.integers(0, 60).map(str), st.sampled_from(["-1", "-5", "10" * 8, "1e3", "x", "", "nan"]))
DIMS = st.one_of(st.integers(-2, 6).map(str), st.sampled_from(["10**9", "100000", "2001", "abc", "1e2", ""]))

COMMON = {
    "--objective": st.sampled_from(WORDS),
    "--expr": st.sampled_from(FORMULAS),
    "--dim": DIMS,
    "--seed": value(),
    "--lam": value(),
    "--x0": st.sampled_from(["0.1", "1,2", "nan", "0.1,0.2,0.3", "a,b", "", "1e309", ",", "1," * 5]),
    "--x0-seed": value(),
    "--optimizer": st.sampled_from(WORDS),
    "--eta": value(),
    "--eps": value(),
    "--alpha": value(),
    "--beta1": value(),
    "--beta2": value(),
    "--a": value(),
    "--b": value(),
}
SWEEPING = {"--steps": SMALL_STEPS, "--record-every": st.integers(-2, 60).map(str),
            "--workers": st.sampled_from(["1", "0", "-1", "300", "x"]), "--progress": None, "--no-progress": None}
OPTIONS = {
    "run": {**COMMON, "--steps": st.one_of(SMALL_STEPS, st.sampled_from(["5000000", "10**12", "1000000000001",
                                                                       "3000000"])),
            "--record-every": st.one_of(st.integers(-2, 5).map(str), st.sampled_from(["x", "", "1e9"]))},
    "stability": {**COMMON, "--point": st.sampled_from(["0.1", "1,2", "nan", "x", ""]),
                  "--optimizer": st.sampled_from(["rmsprop", "adam", "gd", "lion", "x"]),
                  "--dim": st.one_of(st.integers(-1, 4).map(str), st.sampled_from(["x", "99999"]))},
    "phase-diagram": {**{k: v for k, v in COMMON.items() if k not in ("--a", "--b", "--optimizer", "--eps",
                                                                      "--alpha", "--beta1", "--beta2")},
                      **SWEEPING, "--a": st.sampled_from(["1", "0.5:5:2", "0:1:2", "1,1", "x", "1:10:99999", "-1"]),
                      "--b": st.sampled_from(["1", "2,3", "1:2", "nan"])},
    "sweep": {**COMMON, **SWEEPING, "--axis": st.sampled_from(WORDS)},
    "flow": {"--optimizer": st.sampled_from(["adam", "rmsprop", "gd", "signgd", "lion"]),
             "--a": value(), "--b": value(), "--eps": value(), "--hold": st.sampled_from(["rates", "factors", "x"]),
             "--T": st.sampled_from(["0.05", "0.1", "0", "-1", "nan", "inf", "1e9", "1e300", "abc", ""]),
             "--objective": st.sampled_from(["random-quadratic", "quadratic-1d", "quadratic", "cosine-bowl", "x"]),
             "--d": st.one_of(st.integers(-1, 4).map(str), st.sampled_from(["x", "10**6"])),
             "--seed": value(), "--lam": value(), "--x0": st.sampled_from(["0.1", "1,2", "nan"])},
}
# options that take several values
MULTI = {"flow": {"--etas": st.lists(st.sampled_from(["0.05", "0.025", "0.02", "0.05", "-1", "nan", "0", "x",
                                                       "1e-300", "1e9"]), max_size=4)}}
FIXED = {"phase-diagram": ["--no-progress"], "sweep": ["--no-progress"]}
NEEDS_OUT = ("phase-diagram", "sweep")


@st.composite
def argv_for(draw, cmd):
    opts = OPTIONS[cmd]
    names = draw(st.lists(st.sampled_from(sorted(opts) + sorted(MULTI.get(cmd, {}))), max_size=5))
    argv = [cmd]
    if cmd == "sweep" and draw(st.integers(0, 3)):
        argv += ["--axis", draw(st.sampled_from(AXES))]
    for name in names:
        if name in MULTI.get(cmd, {}):
            argv += [name, *draw(MULTI[cmd][name])]
        elif opts[name] is None:
            argv.append(name)
        else:
            argv += [name, draw(opts[name])]
    if draw(st.booleans()):
        argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(UNKNOWN)))
    return argv


def check(argv, capsys):
    with tempfile.TemporaryDirectory() as tmp:
        full = list(argv)
        cmd = argv[0] if argv else None
        if cmd in NEEDS_OUT:
            full += FIXED[cmd] + ["--out", os.path.join(tmp, "o")]
        if cmd in ("phase-diagram", "sweep") and "--steps" not in argv:
            full += ["--steps", "30"]  # the default 20,000 steps x 256 points is not a fuzz case
        if cmd == "phase-diagram" and "--a" not in argv:
            full += ["--a", "1,10"]
        rc = main(full)
    cap = capsys.readouterr()
    assert "Traceback" not in cap.out + cap.err, full
    assert rc in (0, 2), (full, rc, cap.err)
    lines = cap.err.strip().splitlines()
    if rc == 2:
        if "--help" in full or "--version" in full:
            return
        assert len(lines) == 1 and " error: " in lines[0], (full, cap.err)
    else:
        assert all(" warning: " in ln for ln in lines), (full, cap.err)


@FUZZ
@given(argv=argv_for("run"))
def test_fuzz_run(argv, capsys):
    check(argv, capsys)


@FUZZ
@given(argv=argv_for("stability"))
def test_fuzz_stability(argv, capsys):
    check(argv, capsys)


@FUZZ
@given(argv=argv_for("flow"))
def test_fuzz_flow(argv, capsys):
    check(argv, capsys)


@FUZZ
@given(argv=argv_for("phase-diagram"))
def test_fuzz_phase_diagram(argv, capsys):
    check(argv, capsys)


@FUZZ
@given(argv=argv_for("sweep"))
def test_fuzz_sweep(argv, capsys):
    check(argv, capsys)


@FUZZ
@given(argv=st.lists(st.one_of(st.sampled_from(UNKNOWN + WORDS + NUMBERS + ["run", "flow", "sweep", "demo"]),
                               st.text(max_size=10)), max_size=6))
def test_fuzz_top_level(argv, capsys):
    # any word list: a command runs only when it is the first word; keep those cheap
    if argv and argv[0] in ("run", "flow", "sweep", "demo", "stability", "phase-diagram") and "--help" not in argv:
        argv = [argv[0], "--no-such-option"] + argv[1:]
    check(argv, capsys)


def test_fuzz_reaches_the_commands(capsys):
    """The fuzz is not only refusals: a fixed sample of drawn command lines includes runs that finish."""
    from hypothesis import find

    for cmd in ("run", "stability"):
        ok = find(argv_for(cmd), lambda a: len(a) > 3 and main(a) == 0,
                  settings=settings(max_examples=300, database=None, derandomize=True))
        capsys.readouterr()
        assert ok[0] == cmd


COSTLY = ["9**9**9**9*x1", "x99999999999999999999", "10**400*x1", "+".join(["x1"] * 1000), "x1**(10**10**10)"]


@pytest.mark.parametrize("formula", COSTLY)
def test_costly_formulas_are_refused_quickly(formula):
    """Each in its own process with a memory cap: a hang or a memory blow-up fails the test;
    the formula is refused in one line or (``x1+x1+...``, a valid formula) run."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30));"
            "from adadyn.cli import main; sys.exit(main(sys.argv[1:]))")
    env = dict(os.environ, MPLBACKEND="Agg")
    try:
        p = subprocess.run([sys.executable, "-c", code, "run", "--objective", "expr", "--expr", formula,
                            "--steps", "5"], capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"adadyn run --expr {formula[:40]!r} did not finish in 120 s")
    assert "Traceback" not in p.stderr
    assert p.returncode in (0, 2), p.stderr
    if p.returncode == 2 or formula != "+".join(["x1"] * 1000):
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
