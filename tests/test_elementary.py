"""The engine's own exp, log1p and logistic loss (cpp/include/optcore/elementary.hpp): the bits of a NumPy
reference doing the same operations (tests/elementary_reference.py) in every compiled copy, in the vector and the
scalar form, and within 2 ulp of the true value (mpmath at 50 digits) over the whole range, edges included."""

import mpmath
import numpy as np
import pytest
from elementary_reference import exp_exact, log1p_exact, softplus_neg_exact

from optcore import _core

INFO = _core.isa_info()
COPIES = ["portable"] + [isa for isa in ("avx2", "avx512") if INFO[f"{isa}_copy_built"]]
TINY = {np.float64: 5e-324, np.float32: np.float32(1.4e-45)}


def _copy(isa):
    if isa != "portable" and not INFO[f"{isa}_supported"]:
        pytest.skip(f"CPU lacks {'avx512f' if isa == 'avx512' else 'avx2'} (the {isa} copy is built but cannot run here)")
    return isa


def _exp_inputs(dtype):
    rng = np.random.default_rng(0)
    if dtype == np.float64:
        edges = [709.782712893384, 709.7827128933841, 709.79, 710.0, 1e308, -708.39641853226408, -708.4, -745.0,
                 -745.1332191019411, -745.1332191019412, -745.2, -746.0, -1e308]
        wide = rng.uniform(-750, 715, 3000)
    else:
        edges = [88.72283, 88.72284, 89.0, 1e38, -87.33655, -87.34, -103.27893, -103.97208, -103.97209, -104.0, -1e38]
        wide = rng.uniform(-106, 91, 3000)
    special = [0.0, -0.0, 1e-300 if dtype == np.float64 else 1e-30, -1e-20, 0.5, -0.5, 0.34657359, -0.34657359,
               np.inf, -np.inf, np.nan]
    small = rng.uniform(-1, 1, 500) * 10.0 ** rng.uniform(-20, 0, 500)
    return np.concatenate([edges, special, wide, small]).astype(dtype)


def _log1p_inputs():
    rng = np.random.default_rng(1)
    return np.concatenate([
        [0.0, 5e-324, 1e-310, 1e-300, 2.0**-53, 2.0**-52, 1e-10, 0.4142135623730951, 0.5, 1.0, 2.0**53, 1e300,
         1.7976931348623157e308, np.inf, np.nan, -1.0, -1e-300],
        10.0 ** rng.uniform(-320, 308, 2000), rng.uniform(0, 1, 1000),
    ])


CASES = [("exp", np.float64, _exp_inputs(np.float64), exp_exact), ("exp", np.float32, _exp_inputs(np.float32), exp_exact),
         ("log1p", np.float64, _log1p_inputs(), log1p_exact),
         ("softplus_neg", np.float64, np.concatenate([_exp_inputs(np.float64), -_exp_inputs(np.float64)]),
          softplus_neg_exact)]


@pytest.mark.parametrize("isa", COPIES)
@pytest.mark.parametrize(("name", "dtype", "x", "reference"), CASES, ids=[f"{c[0]}-{c[1].__name__}" for c in CASES])
def test_every_copy_gives_the_reference_bits(isa, name, dtype, x, reference):
    got = _core.elementary(name, x, _copy(isa))
    want = reference(x)
    assert got.dtype == dtype and want.dtype == dtype
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.array_equal(got[ok].view(f"u{x.itemsize}"), want[ok].view(f"u{x.itemsize}")), x[ok][got[ok] != want[ok]][:5]


@pytest.mark.parametrize(("name", "dtype", "x", "reference"), CASES, ids=[f"{c[0]}-{c[1].__name__}" for c in CASES])
def test_vector_and_scalar_forms_agree(name, dtype, x, reference):
    whole = _core.elementary(name, x)  # whole vectors through the vector form (x is contiguous, as it must be)
    alone = np.array([_core.elementary(name, x[i : i + 1])[0] for i in range(0, x.size, 7)], dtype=dtype)  # scalar
    np.testing.assert_array_equal(whole[::7], alone)


def _ulps(got, exact, dtype):
    """|got - exact| in units in the last place of the exact value (the subnormal spacing below the normals)."""
    info = np.finfo(dtype)
    exact = np.asarray(exact, dtype=np.float64)  # exact rounded to double: enough to measure a few float32 ulps
    mag = np.maximum(np.abs(exact), float(info.tiny))
    ulp = 2.0 ** (np.floor(np.log2(mag)) - (info.nmant))
    return np.abs(got.astype(np.float64) - exact) / ulp


def _mp(fn, values):
    mpmath.mp.dps = 50
    return [fn(mpmath.mpf(float(v))) for v in values]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_is_within_two_ulp_including_overflow_and_underflow(dtype):
    x = _exp_inputs(dtype)
    x = np.ascontiguousarray(x[np.isfinite(x)][::3])
    got = _core.elementary("exp", x)
    info = np.finfo(dtype)
    exact = _mp(mpmath.exp, x)
    huge = np.array([e > mpmath.mpf(float(info.max)) * (1 + mpmath.mpf(2.0) ** -(info.nmant + 2)) for e in exact])
    assert np.all(np.isinf(got[huge]))  # overflow: inf, as the true value rounds to
    ulps = _ulps(got[~huge], np.array([float(e) for e in np.array(exact)[~huge]]), dtype)
    assert ulps.max() <= 2.0, x[~huge][np.argmax(ulps)]
    assert np.all(got[x < (-746 if dtype == np.float64 else -104)] == 0)


def test_log1p_and_the_logistic_loss_are_within_two_ulp():
    u = _log1p_inputs()
    u = np.ascontiguousarray(u[np.isfinite(u) & (u >= 0)][::3])
    ulps = _ulps(_core.elementary("log1p", u), np.array([float(v) for v in _mp(mpmath.log1p, u)]), np.float64)
    assert ulps.max() <= 2.0, u[np.argmax(ulps)]
    z = np.concatenate([_exp_inputs(np.float64), -_exp_inputs(np.float64)])
    z = np.ascontiguousarray(z[np.isfinite(z)][::5])
    exact = np.array([float(v) for v in _mp(lambda t: mpmath.log1p(mpmath.exp(-t)), z)])
    ulps = _ulps(_core.elementary("softplus_neg", z), exact, np.float64)
    assert ulps.max() <= 2.0, z[np.argmax(ulps)]


def test_special_values():
    inf, nan = np.inf, np.nan
    exp = _core.elementary("exp", np.array([inf, -inf, nan, 0.0, -0.0]))
    assert exp[0] == inf and exp[1] == 0 and np.isnan(exp[2]) and exp[3] == 1 and exp[4] == 1
    log1p = _core.elementary("log1p", np.array([0.0, inf, nan, -0.5]))
    assert log1p[0] == 0 and log1p[1] == inf and np.isnan(log1p[2]) and np.isnan(log1p[3])
    with pytest.raises(ValueError, match="float64 only"):
        _core.elementary("log1p", np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="function must be"):
        _core.elementary("sin", np.zeros(2))
