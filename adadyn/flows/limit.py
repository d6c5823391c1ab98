"""The eta -> 0 limit of a discrete optimiser spec: :func:`limit`."""
from __future__ import annotations

from adadyn.discrete.schedules import Constant
from adadyn.discrete.specs import GD, Adam, Optimizer, RMSprop, SignGD
from adadyn.flows.fields import AdamFlow, EpsSignFlow, Flow, GDFlow, RMSpropFlow, SignGDFlow

HOLDS = ("rates", "factors")


def limit(opt: Optimizer, hold: str = "rates") -> Flow:
    """The continuous-time flow a discrete optimiser tends to as eta -> 0.

    Parameters
    ----------
    opt : Optimizer
        ``GD``, ``SignGD``, ``RMSprop`` or ``Adam`` (eps outside the root,
        constant schedule). AMSGrad, Adagrad, AdaFix and ``Family`` have no flow here.
    hold : {"rates", "factors"}
        What stays fixed as eta -> 0.

        * ``"rates"``: the memory rates a = (1 - alpha)/eta, b = (1 - beta)/eta
          (alpha = 1 - a*eta, beta = 1 - b*eta), giving the RMSprop flow (7) and
          the Adam flow (8) (Prop. 2 of Ma, Wu & E).
        * ``"factors"``: alpha, beta themselves; the memory then lasts O(eta) time
          and both RMSprop and Adam tend to the eps-sign flow (4) (Prop. 1).

        GD and SignGD have no memory: both choices give the gradient flow and the
        signGD flow (5).

    Returns
    -------
    Flow
    """
    if hold not in HOLDS:
        raise ValueError(f"hold must be one of {HOLDS}, got {hold!r}")
    if not isinstance(opt, Optimizer):
        raise ValueError(f"opt must be an optimiser spec (adadyn.Adam, ...), got {type(opt).__name__}")
    if not isinstance(opt.schedule, Constant):
        raise ValueError("the flows are limits at a constant learning rate; "
                         f"opt has schedule {opt.schedule!r}")
    kind = type(opt)
    if kind is GD:
        return GDFlow()
    if kind is SignGD:
        return SignGDFlow()
    if kind in (RMSprop, Adam):
        if opt.eps_inside:
            raise ValueError("eps_inside=True has no flow here: limit() supports eps outside the "
                             "square root only (eqs. (4), (7), (8))")
        if hold == "factors":
            if opt.eps <= 0:
                raise ValueError("the eps-sign flow (4) needs eps > 0; with eps = 0 use SignGDFlow()")
            return EpsSignFlow(opt.eps)
        if kind is RMSprop:
            return RMSpropFlow(a=opt.a, eps=opt.eps)
        return AdamFlow(a=opt.a, b=opt.b, eps=opt.eps, bias_correction=opt.bias_correction)
    raise ValueError(f"no continuous-time limit for {opt.name}; supported: GD, SignGD, RMSprop, Adam")
