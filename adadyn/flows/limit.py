"""The eta -> 0 limit of a discrete optimiser spec: :func:`limit`, read from the
spec's coefficient view (:meth:`adadyn.discrete.specs.Optimizer.coefficients`)."""
from __future__ import annotations

from adadyn.discrete.coefficients import Coefficients
from adadyn.discrete.schedules import Constant
from adadyn.flows.fields import AdamFlow, EpsSignFlow, Flow, GDFlow, RMSpropFlow, SignGDFlow
from adadyn.validation import check_optimizer

HOLDS = ("rates", "factors")


class NoFlowError(ValueError):
    """The optimiser has no continuous-time limit among the flows of this package."""


def limit(opt, hold: str = "rates", order: int = 1) -> Flow:
    """The continuous-time flow a discrete optimiser tends to as eta -> 0.

    Parameters
    ----------
    opt : Optimizer
        ``GD``, ``SignGD``, ``RMSprop``, ``Adam`` or a ``Family`` with the
        coefficients of one of them (eps outside the root, constant schedule).
        AMSGrad, Adagrad, AdaFix and Lion have no flow here (:class:`NoFlowError`,
        a ValueError).
    hold : {"rates", "factors"}
        What stays fixed as eta -> 0.

        * ``"rates"``: the memory rates a = (1 - alpha)/eta, b = (1 - beta)/eta
          (alpha = 1 - a*eta, beta = 1 - b*eta), giving the RMSprop flow (7) and
          the Adam flow (8) (Prop. 2 of Ma, Wu & E).
        * ``"factors"``: alpha, beta themselves; the memory then lasts O(eta) time
          and both RMSprop and Adam tend to the eps-sign flow (4) (Prop. 1).

        GD and SignGD have no memory: both choices give the gradient flow and the
        signGD flow (5).
    order : {1, 2}
        1 (default): the flows above, O(eta) from the run. 2: the modified flow of
        backward error analysis at the spec's eta (:mod:`adadyn.flows.modified`),
        O(eta^2) from the run at the step times t_k = k eta (from a smooth start),
        for GD (Barrett & Dherin 2021), RMSprop and Adam with or without bias
        correction; ``hold="rates"`` only (``docs/modified-flows.md``).

    Returns
    -------
    Flow

    Notes
    -----
    Props. 1 and 2 are stated for eps outside the square root, so ``eps_inside``
    specs are refused here. The formal analogue with eps inside, used by the
    linearisation, is :func:`flow_of` with ``eps_inside_ok=True``.
    """
    if hold not in HOLDS:
        raise ValueError(f"hold must be one of {HOLDS}, got {hold!r}")
    try:
        check_optimizer(opt)
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    coef = opt.coefficients()
    flow = flow_of(coef, hold, name=opt.name)
    if order == 1:
        return flow
    from adadyn.flows.modified import modified_of

    if hold != "rates" or isinstance(flow, SignGDFlow):
        raise NoFlowError(f"order=2 needs hold='rates' and a smooth flow (GD, RMSprop, Adam); "
                          f"got {flow.name} with hold={hold!r}")
    if isinstance(flow, RMSpropFlow) and coef.bias_correction:
        raise NoFlowError(f"no order-2 flow for {opt.name}: a bias-corrected second moment "
                          "without a first moment has no flow here")
    return modified_of(flow, coef.eta)


def flow_of(coef: Coefficients, hold: str = "rates", *, name: str = "this optimiser",
            eps_inside_ok: bool = False) -> Flow:
    """The flow of a coefficient view (the body of :func:`limit`).

    The moment methods of eq. (1) have a flow when their coefficients have the
    form of Prop. 2's scaling: p = 1 - q (rate a = (1 - q)/eta) and either r = 0,
    h = 1 (the RMSprop flow (7)) or h = 1 - r (rate b = (1 - r)/eta, the Adam
    flow (8)). Raises :class:`NoFlowError` naming what is missing.
    """
    if not isinstance(coef.schedule, (Constant, type(None))):
        raise NoFlowError("the flows are limits at a constant learning rate; "
                          f"{name} has schedule {coef.schedule!r}")
    method = coef.method
    if method == "gd":
        return GDFlow()
    if method == "sign":
        return SignGDFlow()
    if method != "moment":
        raise NoFlowError(f"no continuous-time limit for {name} (method {method!r}); "
                          "supported: GD, SignGD, RMSprop, Adam (AdaFix and Lion have no flow here)")
    if coef.amsgrad != "none":
        raise NoFlowError(f"no continuous-time limit for {name}: AMSGrad's running max has no flow here")
    a, b = coef.rates
    if a is None:
        raise NoFlowError(f"no continuous-time limit for {name}: the second moment has no rate "
                          "(needs p = 1 - q < 1, as RMSprop/Adam; Adagrad's q = 1 accumulates)")
    if coef.r == 0.0 and coef.h != 1.0 or coef.r != 0.0 and b is None:
        raise NoFlowError(f"no continuous-time limit for {name}: the first moment needs h = 1 - r")
    if coef.eps_inside and not eps_inside_ok:
        raise NoFlowError("eps_inside=True has no flow here: limit() supports eps outside the "
                          "square root only (eqs. (4), (7), (8))")
    if hold == "factors":
        if coef.eps <= 0:
            raise NoFlowError("the eps-sign flow (4) needs eps > 0; with eps = 0 use SignGDFlow()")
        if coef.eps_inside:
            raise NoFlowError("the eps-sign flow (4) has eps outside the root; got eps_inside=True")
        return EpsSignFlow(coef.eps)
    if coef.r == 0.0:
        return RMSpropFlow(a=a, eps=coef.eps, eps_inside=coef.eps_inside)
    return AdamFlow(a=a, b=b, eps=coef.eps, bias_correction=coef.bias_correction,
                    eps_inside=coef.eps_inside)
