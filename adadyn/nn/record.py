"""What :func:`adadyn.nn.train` records, and the block buffer that keeps it off the host.

Per step, one row of a block buffer on the device holds the loss and the per-tensor
gradient norms, ``[loss, |g_1|, ..., |g_P|]``; at a recorded step the row goes on with
the per-tensor norms of x and m, the l1 norms of v (v >= 0: the sums) and the test
error, ``[..., |x_1|, ..., |x_P|, |m_1|, ..., |m_P|, sum v_1, ..., sum v_P, test]``. A
row costs one foreach reduction and one stack (and, before a recorded step, two foreach
reductions taken right after the optimiser step, while x, m and v are in the cache), and
no host synchronisation: a block of rows is read back at once (:meth:`Recorder.flush`),
checked for a non-finite loss or gradient and reduced in float64 into the records of
Figure 7 of Ma, Wu & E: loss, |grad|, time and (|x|, |m|, |sqrt(v)|).
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["Recorder", "flat"]

#: steps whose records are read back (and checked for a non-finite value) at once
BLOCK_STEPS = 64


def flat(ts) -> np.ndarray:
    """Tensors as one float64 vector (empty for no tensors)."""
    if not ts:
        return np.zeros(0)
    return torch.cat([t.detach().reshape(-1) for t in ts]).to("cpu", torch.float64).numpy()


class Recorder:
    """The records of one :func:`~adadyn.nn.train` call and the block buffer they pass through.

    :meth:`record` writes step n's row (no host synchronisation); :meth:`flush` reads the
    block back, fills the records and returns the row of the first non-finite loss or
    gradient (None when all are finite); :meth:`extras` and the arrays give the result.

    Parameters
    ----------
    opt : torch.optim.Optimizer
        The :func:`adadyn.nn.optimizer` being run (its moments, time and coefficients).
    params : list of torch.Tensor
        The trained parameters.
    problem : Problem
        On the training device (its test error is recorded when it has a test set).
    steps, record_every : int
        Row j of the records is the state after j * record_every steps of this call.
    params_every : int or None
        Record the flattened parameters every this many records (``traj.x``).
    sharpness : bool
        Keep a sharpness series (NaN where not measured).
    last_grad_norm : float
        |g| of the step before this call's first (m = h g for the methods with r = 0).
    block : int
        Rows per block (steps between two read-backs).
    """

    def __init__(self, opt, params, problem, steps: int, record_every: int, params_every: int | None,
                 sharpness: bool, last_grad_norm: float, block: int = BLOCK_STEPS):
        ref = params[0]
        c = opt.coefficients
        self.opt, self.params, self.problem = opt, params, problem
        self.record_every, self.params_every, self.block = record_every, params_every, block
        nrec = steps // record_every + 1
        self.d = int(sum(p.numel() for p in params))
        self.np = len(params)
        self.loss, self.grad_norm, self.x_norm, self.m_norm, self.sqrt_v_norm, self.time = (
            np.empty(nrec) for _ in range(6))
        self.test = np.full(nrec, np.nan) if problem.has_test else None
        self.sharp = np.full(nrec, np.nan) if sharpness else None
        self.xs = np.empty(((nrec - 1) // params_every + 1 if params_every else 0, self.d))
        self._sqrt_v0 = math.sqrt(self.d * c.v0) if c.has_v else 0.0
        self._h_abs = abs(c.h)
        self.last_is_grad = bool(opt.m_is_last_grad)
        nt = 1 if self.test is not None else 0
        self.buf = torch.zeros((block, 1 + 4 * self.np + nt), dtype=ref.dtype, device=ref.device)
        self._views = [(self.buf[k], self.buf[k, :1 + self.np]) for k in range(block)]
        self._rec = np.full(block, -1)  # record index of each row (-1: not a recorded step)
        self._has_m = np.zeros(block, dtype=bool)  # the row holds m's norms
        self._has_v = np.zeros(block, dtype=bool)  # the row holds v's sums
        with torch.no_grad():
            self._zero = [torch.zeros_like(p) for p in params]
        self.rows = 0  # rows filled in the current block
        self.n_records = 0  # records read back
        self.prev_gn = last_grad_norm  # |g| of the step before the block's first
        self.end_gn = last_grad_norm  # |g| of the step before the last one read back
        self._moments = None  # opt.moments(), once they exist
        self._state_norms = None  # norms of (x, m, v) at the current point, taken right after the step to it

    @property
    def full(self) -> bool:
        return self.rows == self.block

    def last_loss(self) -> float:
        """The loss of the last record read back (NaN before the first)."""
        return float(self.loss[self.n_records - 1]) if self.n_records else math.nan

    def note_state(self, n: int) -> None:
        """After the step to x_n: if n is a recorded step, take the norms of (x, m, v) now,
        while the step's tensors are still in the cache."""
        if n % self.record_every == 0:
            with torch.no_grad():
                self._state_norms = self._norms_of_state()

    def _norms_of_state(self):
        """Per-tensor norms of x and m and sums of v (v >= 0), as a list of 0-d tensors."""
        if self._moments is None:
            ms, vs = self.opt.moments()
            if self.opt.steps_taken:  # the moment tensors exist and are updated in place from now on
                self._moments = ms, vs
        else:
            ms, vs = self._moments
        out = list(torch._foreach_norm(self.params if ms is None else self.params + ms))
        if vs is not None:
            out += torch._foreach_norm(vs, 1.0)
        return out, ms is not None, vs is not None

    def record(self, n: int, loss, model) -> int | None:
        """Write step n's row: the loss and gradient norms, and at a recorded step the
        state's norms, the test error, the time and the parameters. Returns the record
        index j when step n is recorded, else None."""
        i = self.rows
        row, short = self._views[i]
        gs = [p.grad if p.grad is not None else z for p, z in zip(self.params, self._zero)]
        self.rows += 1
        with torch.no_grad():
            if n % self.record_every:
                torch.stack((loss, *torch._foreach_norm(gs)), out=short)
                return None
            j = n // self.record_every
            if self._state_norms is None:
                self._state_norms = self._norms_of_state()
            xmv, has_m, has_v = self._state_norms
            self._state_norms = None
            vals = [loss, *torch._foreach_norm(gs), *xmv]
            if self.test is not None:
                vals.append(self.problem.test_error(model))
            torch.stack(vals, out=row[:len(vals)])
        self._rec[i], self._has_m[i], self._has_v[i] = j, has_m, has_v
        self.time[j] = self.opt.time
        if self.params_every and j % self.params_every == 0:
            self.xs[j // self.params_every] = flat(self.params)
        return j

    def flush(self) -> int | None:
        """Read back the block's rows: fill the records up to the first non-finite loss or
        gradient and return its row (None when every row is finite); start a new block."""
        i, np_ = self.rows, self.np
        rows = self.buf[:i].to("cpu", torch.float64).numpy()
        lv = rows[:, 0]
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is a divergence
            gv = np.sqrt(np.sum(rows[:, 1:1 + np_] ** 2, axis=1))
        bad = ~(np.isfinite(lv) & np.isfinite(gv))
        first_bad = int(np.argmax(bad)) if bad.any() else i
        gprev = np.concatenate(([self.prev_gn], gv[:-1]))
        sel = np.flatnonzero(self._rec[:first_bad] >= 0)
        if sel.size:
            self._fill(rows[sel], self._rec[sel], lv[sel], gv[sel], gprev[sel], self._has_m[sel], self._has_v[sel])
        self.end_gn = float(gprev[min(first_bad, i - 1)])
        self.prev_gn = float(gv[i - 1])
        self._rec[:i] = -1
        self.rows = 0
        return first_bad if first_bad < i else None

    def _fill(self, r, js, lv, gv, gprev, hm, hv) -> None:
        """Reduce the recorded rows ``r`` (records ``js``) into the float64 records."""
        np_ = self.np
        self.loss[js], self.grad_norm[js] = lv, gv
        self.x_norm[js] = np.sqrt(np.sum(r[:, 1 + np_:1 + 2 * np_] ** 2, axis=1))
        self.m_norm[js] = self._h_abs * gprev if self.last_is_grad else 0.0
        self.sqrt_v_norm[js] = self._sqrt_v0
        for fm, fv in {(bool(x), bool(y)) for x, y in zip(hm, hv)}:
            at = (hm == fm) & (hv == fv)
            ra, ja = r[at], js[at]
            o = 1 + 2 * np_
            if fm:
                self.m_norm[ja] = np.sqrt(np.sum(ra[:, o:o + np_] ** 2, axis=1))
                o += np_
            if fv:
                self.sqrt_v_norm[ja] = np.sqrt(np.sum(ra[:, o:o + np_], axis=1))
                o += np_
            if self.test is not None:
                self.test[ja] = ra[:, o]
        self.n_records = int(js[-1]) + 1

    def extras(self) -> dict:
        """The per-record series of ``Trajectory.extras`` (copies, ``n_records`` long)."""
        nr = self.n_records
        out = {"x_norm": self.x_norm[:nr].copy(), "m_norm": self.m_norm[:nr].copy(),
               "sqrt_v_norm": self.sqrt_v_norm[:nr].copy()}
        if self.test is not None:
            out["test_error"] = self.test[:nr].copy()
        if self.sharp is not None:
            out["sharpness"] = self.sharp[:nr].copy()
        return out

    def params_recorded(self) -> np.ndarray:
        """The recorded parameter vectors (rows up to the last record read back)."""
        nr = self.n_records
        nx = (nr - 1) // self.params_every + 1 if (self.params_every and nr) else 0
        return self.xs[:nx]
