"""What every result object shares: ``save`` (a versioned ``.npz``, read back by
:func:`adadyn.load`) and a short table for notebooks (``_repr_html_``).

A leaf module: the format lives in :mod:`adadyn.persist` and the HTML in
:mod:`adadyn.export`, both imported only when used, so result classes can inherit
from :class:`ResultIO` without an import cycle.
"""
from __future__ import annotations


class ResultIO:
    """Mixin of the result classes (``Trajectory``, ``FlowSolution``, ``PhaseDiagram``,
    ``HyperSweep``, ``SweepResult``). A subclass names its HTML view in ``_html``
    (a function of :mod:`adadyn.export`)."""

    __slots__ = ()
    _html: str = ""

    def save(self, path, *, extra: dict | None = None):
        """Write this result to ``path`` (a versioned ``.npz``, no pickle); read it back
        with :func:`adadyn.load`, bit for bit (``docs/results.md``).

        Parameters
        ----------
        path : path-like
            The file (used as given; an existing file is replaced only if it is an
            adadyn result file, and a symbolic link is never written through).
        extra : dict of str to array_like, optional
            Further arrays stored beside the result (``numpy.load`` reads them).

        Returns
        -------
        pathlib.Path
        """
        from adadyn.persist import save

        return save(self, path, extra=extra)

    def _repr_html_(self) -> str:
        from adadyn import export

        return getattr(export, self._html)(self)
