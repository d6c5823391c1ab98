"""``adadyn sweep``: any optimiser over a grid of any of its hyperparameters, on any
registered objective (``docs/cli.md``), through :func:`adadyn.analysis.hyperparameter_sweep`.

Writes ``sweep.npz`` (the axes, labels and final losses), ``summary.txt`` (the
regime counts) and, for a 2-D grid, ``sweep.png`` (the regime heat map). Finished
chunks are kept in ``OUT/chunks``; rerunning the same command resumes.
"""
from __future__ import annotations

import itertools
import numpy as np

from adadyn.commands import registry as R
from adadyn.commands.axes import parse_axes
from adadyn.commands.errors import CLIError, guarded, warn
from adadyn.commands.limits import MAX_POINTS, MAX_STEPS, check_record_size
from adadyn.validation import check_int

PROG = "adadyn sweep"


def default_record_every(steps: int) -> int:
    """Stride of the stored loss histories when --record-every is not given (as phase_diagram)."""
    return max(1, steps // 2000)


def plan(args):
    """Everything the sweep needs, checked before any run: ``(opt, obj, x0, axes, steps, record_every)``.

    Raises :class:`CLIError` (or the library's ValueError) naming the option.
    """
    entry = R.optimizer_entry(args.optimizer)
    axes = parse_axes(args.axis, ("eta", *entry.options))
    if not axes:
        raise CLIError("give at least one --axis NAME=VALUES, e.g. --axis eta=1e-3:1e-1:8")
    given = R.given_hyperparameters(args)
    R.check_applicable(entry, [*given, *axes])
    for k in axes:
        if k in given:
            raise CLIError(f"--{k} is also an --axis; give it one way")
    held = [r for r in ("a", "b") if r in given]
    if "eta" in axes and held:
        raise CLIError(f"--{held[0]} with an eta axis: the factor would be fixed at the template's eta; "
                       f"hold the rate with --axis {held[0]}={given[held[0]]:g}")
    opt = R.build_optimizer(args)
    for point in _corners(axes):  # every constraint is monotone in each value: corners suffice
        opt.replace(**point)
    for name, vals in axes.items():
        for v in vals:
            opt.replace(**{name: float(v)})
    points = int(np.prod([v.size for v in axes.values()]))
    if points > MAX_POINTS:
        raise CLIError(f"the grid has {points} points (limit {MAX_POINTS}); use fewer values per --axis")
    obj, start = R.build_objective(args)
    x0 = R.start_point(args, obj, start)
    steps = check_int("--steps", args.steps, 1, MAX_STEPS)
    rec = None if args.record_every is None else check_int("--record-every", args.record_every, 1, MAX_STEPS)
    check_record_size(PROG, f"{points} loss histories of {steps} steps",
                      steps, rec or default_record_every(steps), 8.0 * points)
    return opt, obj, x0, axes, steps, rec


def _corners(axes):
    ends = [(float(v.min()), float(v.max())) for v in axes.values()]
    for combo in itertools.product(*ends):
        yield dict(zip(axes, combo))


def summary_text(labels: np.ndarray, axes: dict, opt, obj, steps: int, blown_up=None) -> str:
    """Counts of each label over the grid, one line each with its meaning, and the grid's
    description (``opt``: a spec or its description); with ``blown_up`` (bool, the grid's shape)
    a line counting the runs that blew up."""
    from adadyn.analysis.regimes import REGIME_MEANINGS, REGIMES

    lines = [f"{opt if isinstance(opt, str) else repr(opt)} on {obj.name}, {steps} steps, grid "
             + " x ".join(f"{k}[{v.size}] in [{v.min():.4g}, {v.max():.4g}]" for k, v in axes.items())]
    names = list(REGIMES) + sorted(set(np.unique(labels).tolist()) - set(REGIMES))
    lines += [f"  {r}: {int(np.sum(labels == r))}" + (f"   ({REGIME_MEANINGS[r]})" if r in REGIME_MEANINGS else "")
              for r in names]
    if blown_up is not None:
        from adadyn.analysis.regimes import BLEW_UP, BLOWUP_DECADES

        lines.append(f"  of which {BLEW_UP} (non-finite loss or {BLOWUP_DECADES:g}+ decades above the start): "
                     f"{int(np.sum(blown_up))}")
    return "\n".join(lines)


def grid_table(rows: np.ndarray, cols: np.ndarray, labels: np.ndarray, blown_up=None,
               names: tuple = ("a", "b")) -> str:
    """The labels of a 2-D grid as a text table (rows: ``rows``, columns: ``cols``), a run
    that blew up shown as "blew up", and a key giving each label's meaning."""
    from adadyn.analysis.regimes import BLEW_UP, BLOWUP_DECADES, REGIME_MEANINGS

    labels = np.asarray(labels).astype(str)
    blown = np.zeros(labels.shape, bool) if blown_up is None else np.asarray(blown_up, bool)
    cell = np.where(blown, BLEW_UP, labels)
    w = max(9, max(len(c) for c in cell.ravel()))
    lines = [f"{names[0]} \\ {names[1]}".ljust(7) + "  ".join(f"{x:>{w}.3g}" for x in cols)]
    for i, r in enumerate(rows):
        lines.append(f"{r:6.3g} " + "  ".join(f"{cell[i, j]:>{w}s}" for j in range(len(cols))))
    key = [f"{r} = {REGIME_MEANINGS[r]}" for r in REGIME_MEANINGS if np.any(labels == r)]
    if blown.any():
        key.append(f"{BLEW_UP} = non-finite loss or {BLOWUP_DECADES:g}+ decades above the start")
    return "\n".join(lines + ["key: " + "; ".join(key)])


def plot_label_map(labels: np.ndarray, axes: dict, ax=None, blown_up=None):
    """Categorical heat map of the labels of a 2-D grid (rows: first axis, columns: second); the
    legend gives each label's meaning, an x marks the runs that blew up (``blown_up``)."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from adadyn.analysis.regimes import REGIMES
    from adadyn.plotting.regimes import LEGEND_BELOW, REGIME_COLORS, _mark_blown, regime_legend_handles

    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.figure(figsize=(6, 6), layout="constrained").add_subplot(111)
    (ny, yv), (nx, xv) = axes.items()
    code = np.vectorize(lambda s: REGIMES.index(s) if s in REGIMES else -1, otypes=[float])(labels)
    code[code < 0] = np.nan
    cmap = ListedColormap([REGIME_COLORS[r] for r in REGIMES])
    norm = BoundaryNorm(np.arange(len(REGIMES) + 1) - 0.5, len(REGIMES))
    ax.pcolormesh(_edges(xv), _edges(yv), np.ma.masked_invalid(code), cmap=cmap, norm=norm, shading="flat")
    for name, vals, setter in ((nx, xv, ax.set_xscale), (ny, yv, ax.set_yscale)):
        setter("log" if np.all(vals > 0) and _is_log(vals) else "linear")
    ax.set_xlabel(nx)
    ax.set_ylabel(ny)
    _mark_blown(ax, xv, yv, blown_up)
    ax.legend(handles=regime_legend_handles(labels, blown_up), **LEGEND_BELOW)
    return ax


def _is_log(v: np.ndarray) -> bool:
    if v.size < 3:
        return bool(np.all(v > 0))
    r = v[1:] / v[:-1]
    return bool(np.allclose(r, r[0], rtol=1e-6))


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges around sorted or unsorted centres, in log scale when all are > 0."""
    v = np.asarray(v, dtype=float)
    log = bool(np.all(v > 0) and _is_log(v))
    w = np.log10(v) if log else v
    if w.size == 1:
        e = np.array([w[0] - 0.5, w[0] + 0.5])
    else:
        mid = 0.5 * (w[1:] + w[:-1])
        e = np.concatenate([[2 * w[0] - mid[0]], mid, [2 * w[-1] - mid[-1]]])
    return 10.0 ** e if log else e


def result_arrays(result) -> dict:
    """The arrays the summary reads from a sweep result: regime labels and final losses
    (grid-shaped)."""
    from adadyn.analysis.regimes import blew_up

    out = {"regime": np.asarray(result.regime).astype(str), "final_loss": np.asarray(result.final_loss)}
    if hasattr(result, "level") and hasattr(result, "status"):
        out["blew_up"] = blew_up(np.asarray(result.level), np.asarray(result.status) == "diverged")
    return out


def engine():
    """:func:`adadyn.analysis.hyperparameter_sweep` (:class:`CLIError` when this install lacks it)."""
    import adadyn.analysis as an

    try:
        return an.hyperparameter_sweep
    except AttributeError:
        pass
    try:
        from adadyn.analysis.hyper import hyperparameter_sweep
    except ImportError:
        raise CLIError("this adadyn has no adadyn.analysis.hyperparameter_sweep") from None
    return hyperparameter_sweep


@guarded(PROG)
def _run(args) -> int:
    opt, obj, x0, axes, steps, rec = plan(args)
    hyperparameter_sweep = engine()
    from adadyn.commands.resources import make_executor, prepare_out_dir

    ex = make_executor(args)  # a bad --dask is refused before --out is created
    interrupted = True
    try:
        out = prepare_out_dir(args.out)  # refused before any work if foreign or unwritable
        chunks = out.claim("chunks", directory=True)
        args.interrupt_hint = f"finished chunks are kept in {chunks}; rerun the same command to resume"
        res = hyperparameter_sweep(opt, obj, x0, steps, axes, record_every=rec, executor=ex.executor,
                                   out=chunks, progress=args.progress)
        interrupted = False
    finally:
        ex.close(interrupted=interrupted)
    if not res.success:
        warn(PROG, res.message)
    arrays = result_arrays(res)
    text = summary_text(arrays["regime"], axes, opt, obj, steps, arrays.get("blew_up"))
    wrote = [out.save_with("sweep.npz", lambda p: np.savez_compressed(
        p, **{f"axis_{k}": v for k, v in axes.items()}, axis_names=np.array(list(axes)), **arrays))]
    wrote.insert(0, out.write_text("summary.txt", text + "\n"))
    if len(axes) == 2:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = plot_label_map(arrays["regime"], axes, blown_up=arrays.get("blew_up"))
        ax.set_title(f"{opt.name} on {obj.name}, {steps} steps", fontsize="medium")
        wrote.append(out.savefig(ax.figure, "sweep.png", dpi=110))
        plt.close(ax.figure)
    print(text)
    print(f"wrote {', '.join(str(p) for p in wrote)} (finished chunks in {chunks}; rerun to resume)")
    return 0


def register(subparsers) -> None:
    """Add ``adadyn sweep``."""
    p = subparsers.add_parser(
        "sweep", help="any optimiser over a grid of its hyperparameters; regime counts and a heat map",
        description="Run an optimiser at every point of a grid of hyperparameters (eta, eps, alpha, beta1, "
                    "beta2, or the memory rates a, b of Prop. 2), classify each run's late phase and write "
                    "a summary, the data and (2-D grids) a heat map. Finished chunks are saved as they "
                    "complete; rerunning the same command resumes. Example: adadyn sweep --optimizer "
                    "rmsprop --axis eta=1e-3:1e-1:8:log --axis a=0.1:100:8:log --out sw")
    R.add_objective_args(p)
    R.add_start_args(p)
    R.add_optimizer_args(p, default="adam", eta=1e-3)
    p.add_argument("--axis", action="append", metavar="NAME=VALUES",
                   help="a grid axis: NAME=lo:hi:n[:log|lin], NAME=v1,v2,... (repeat for more axes)")
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--record-every", type=int, default=None,
                   help="stride of the stored loss histories (default steps // 2000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: in this process)")
    p.add_argument("--dask", metavar="ADDRESS", help="dask.distributed scheduler address (fails after 5 s)")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="force the progress bar (default: only on a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--out", required=True, help="output directory (resumable)")
    p.set_defaults(func=_run)

