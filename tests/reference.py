"""Plain NumPy reference steps written straight from the papers' equations.

Independent of adadyn's kernels: used to check every Numba step.
"""
import numpy as np


def gd(x, g, eta):
    return x - eta * g


def signgd(x, g, eta):
    return x - eta * np.sign(g)


def rmsprop(x, v, g, eta, alpha, eps, eps_inside=False):
    """Eq. (2) of Ma, Wu & E."""
    v = alpha * v + (1 - alpha) * g**2
    den = np.sqrt(v + eps) if eps_inside else np.sqrt(v) + eps
    return x - eta * g / den, v


def adam(x, m, v, g, k, eta, beta1, beta2, eps, bias_correction=True):
    """Eq. (3) of Ma, Wu & E; k is the 1-based step index."""
    v = beta2 * v + (1 - beta2) * g**2
    m = beta1 * m + (1 - beta1) * g
    c1 = 1 - beta1**k if bias_correction else 1.0
    c2 = 1 - beta2**k if bias_correction else 1.0
    return x - eta * (m / c1) / (np.sqrt(v / c2) + eps), m, v


def amsgrad(x, m, v, vmax, g, k, eta, beta1, beta2, eps, variant="pytorch"):
    v = beta2 * v + (1 - beta2) * g**2
    m = beta1 * m + (1 - beta1) * g
    c1, c2 = 1 - beta1**k, 1 - beta2**k
    if variant == "pytorch":
        vmax = np.maximum(vmax, v)
        vhat = vmax / c2
    elif variant == "optax":
        vmax = np.maximum(vmax, v / c2)
        vhat = vmax
    else:  # reddi: no bias correction
        c1 = 1.0
        vmax = np.maximum(vmax, v)
        vhat = vmax
    return x - eta * (m / c1) / (np.sqrt(vhat) + eps), m, v, vmax


def adagrad(x, v, g, eta, eps):
    v = v + g**2
    return x - eta * g / (np.sqrt(v) + eps), v


def family(x, m, v, g, eta, h, r, p, q, eps):
    """Eq. (1) of Ma, Wu & E with constant coefficients."""
    m = h * g + r * m
    v = p * g**2 + q * v
    return x - eta * m / (np.sqrt(v) + eps), m, v


def adafix(x, m, v, L, g, k, eta, beta1, beta2, eps, grad):
    """Algorithm 1 of Bae, Ryu & Shin (|g| in the freeze test, Adam's denominator)."""
    m = beta1 * m + (1 - beta1) * g
    if np.max(np.abs(g)) >= L * eta:
        v = beta2 * v + (1 - beta2) * g**2
    xn = x - eta * (m / (1 - beta1**k)) / (np.sqrt(v / (1 - beta2**k)) + eps)
    gn = grad(xn)
    dx = np.linalg.norm(xn - x)
    if dx > 0:
        L = max(L, np.linalg.norm(gn - g) / dx)
    return xn, m, v, L
