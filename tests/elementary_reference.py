"""NumPy versions of the engine's own exp, log1p and logistic loss (cpp/include/optcore/elementary.hpp), written
only for the tests: the same operations in the same order, one IEEE operation per NumPy call, so they give the
engine's bits (NumPy never fuses a multiply and an add)."""

import numpy as np

_FACTORIALS = [1.0]
for _j in range(1, 14):
    _FACTORIALS.append(_FACTORIALS[-1] / _j)  # 1/j! as the C++ constexpr computes it, in double

_EXP = {
    np.float64: dict(
        lo=-746.0, hi=710.0, log2e=1.4426950408889634, ln2_hi=6.93147180369123816490e-01,
        ln2_lo=1.90821492927058770002e-10, shifter=6755399441055744.0, degree=13,
    ),
    np.float32: dict(
        lo=-104.0, hi=89.0, log2e=float.fromhex("0x1.715476p+0"), ln2_hi=float.fromhex("0x1.62e4p-1"),
        ln2_lo=float.fromhex("0x1.7f7d1cp-20"), shifter=12582912.0, degree=7,
    ),
}


def exp_exact(x):
    """e^x with elementary.hpp's operations, in x's dtype (float32 or float64)."""
    x = np.asarray(x)
    t_ = x.dtype.type
    c = {k: (t_(v) if k != "degree" else v) for k, v in _EXP[x.dtype.type].items()}
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        xc = np.where(x < c["lo"], c["lo"], np.where(x > c["hi"], c["hi"], x)).astype(x.dtype)
        t = xc * c["log2e"] + c["shifter"]
        k = t - c["shifter"]
        r = (xc - k * c["ln2_hi"]) - k * c["ln2_lo"]
        p = np.full_like(r, t_(_FACTORIALS[c["degree"]]))
        for j in range(c["degree"] - 1, -1, -1):
            p = p * r + t_(_FACTORIALS[j])
        ki = np.where(np.isnan(k), 0, k).astype(np.int64)
        k1 = ki >> 1
        s1 = np.ldexp(t_(1), k1).astype(x.dtype)
        s2 = np.ldexp(t_(1), ki - k1).astype(x.dtype)
        out = (p * s1) * s2
        return np.where(np.isnan(x), x + x, out)


_LG = [6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
       1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01]
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10


def log1p_exact(u):
    """log(1 + u), u >= 0, float64, with elementary.hpp's operations."""
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        w = 1.0 + u
        c = (u - (w - 1.0)) / w
        m, e2 = np.frexp(w)
        f = 2.0 * m
        e = (e2 - 1).astype(np.float64)
        big = f > 1.4142135623730951
        f = np.where(big, 0.5 * f, f)
        e = np.where(big, e + 1.0, e)
        f1 = f - 1.0
        s = f1 / (2.0 + f1)
        z = s * s
        w4 = z * z
        t1 = w4 * (_LG[1] + w4 * (_LG[3] + w4 * _LG[5]))
        t2 = z * (_LG[0] + w4 * (_LG[2] + w4 * (_LG[4] + w4 * _LG[6])))
        R = t2 + t1
        hfsq = 0.5 * f1 * f1
        out = (e * _LN2_HI - ((hfsq - (s * (hfsq + R) + e * _LN2_LO)) - f1)) + c
        out = np.where(u > 1.7976931348623157e308, u, out)
        return np.where(u >= 0.0, out, np.where(np.isnan(u), u + u, np.nan))


def softplus_neg_exact(z):
    """log(1 + e^{-z}), float64: log1p(e^{-|z|}) + max(-z, 0), with the functions above."""
    z = np.asarray(z, dtype=np.float64)
    l = log1p_exact(exp_exact(np.where(z >= 0.0, -z, z)))
    return np.where(z >= 0.0, l, -z + l)
