"""Reference values for ExperimentStatisticsTests, computed independently of the C# code and of MathNet.Numerics.

mpmath at 40 significant digits: the normal and Student t distributions from erfc and the regularized incomplete
beta function, quantiles by root finding, the chi-square upper tail from the regularized upper gamma function.
Run: python3 experiment_statistics_reference.py (needs mpmath; nothing else).
"""
from mpmath import mp, mpf, sqrt, erfc, betainc, gammainc, findroot, log, exp, ceil

mp.dps = 40


def norm_cdf(x):
    return erfc(-x / sqrt(2)) / 2


def norm_q(p):
    return findroot(lambda x: norm_cdf(x) - p, mpf(0))


def t_cdf(t, df):
    x = df / (df + t * t)
    tail = betainc(df / 2, mpf(1) / 2, 0, x, regularized=True) / 2
    return tail if t < 0 else 1 - tail


def t_q(p, df):
    return findroot(lambda x: t_cdf(x, df) - p, norm_q(p))


def show(name, value):
    print(f"{name} = {mp.nstr(value, 17)}")


def proportions(x1, n1, x2, n2, alpha=mpf("0.05"), sequential_mde=None):
    p1, p2 = mpf(x1) / n1, mpf(x2) / n2
    z = norm_q(1 - alpha / 2)
    for name, p, n in (("control", p1, n1), ("treatment", p2, n2)):
        h = z * sqrt(p * (1 - p) / n)
        show(f"  {name} value", p)
        show(f"  {name} ci", p - h)
        show(f"  {name} ci high", p + h)
    d = p2 - p1
    v = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    show("  abs lift", d)
    show("  abs low", d - z * sqrt(v))
    show("  abs high", d + z * sqrt(v))
    r = p2 / p1 - 1
    vr = (p2 * (1 - p2) / n2) / p1**2 + p2**2 * (p1 * (1 - p1) / n1) / p1**4
    show("  rel lift", r)
    show("  rel low", r - z * sqrt(vr))
    show("  rel high", r + z * sqrt(vr))
    pooled = mpf(x1 + x2) / (n1 + n2)
    v0 = pooled * (1 - pooled) * (mpf(1) / n1 + mpf(1) / n2)
    zs = d / sqrt(v0)
    show("  z pooled", zs)
    show("  p pooled", erfc(abs(zs) / sqrt(2)))
    if sequential_mde is not None:
        sequential(d, v0, v, r, vr, p1, sequential_mde, alpha)


def sequential(d, test_variance, variance, r, relative_variance, baseline, mde, alpha):
    """The mSPRT's p-value (from the test's variance) and intervals, the mixture tuned to the MDE."""
    tau2 = mixing(mde * baseline, alpha)
    show("  seq p", min(1, 1 / lam(d, test_variance, tau2)))
    h = half(variance, tau2, alpha)
    show("  seq abs low", d - h)
    show("  seq abs high", d + h)
    hr = half(relative_variance, mixing(mde, alpha), alpha)
    show("  seq rel low", r - hr)
    show("  seq rel high", r + hr)


def mixing(delta, alpha, power=mpf("0.8")):
    za, zb = norm_q(1 - alpha / 2), norm_q(power)
    return delta**2 * (-2 * log(alpha) + log(1 - 2 * log(alpha))) / (za + zb) ** 2


def lam(d, v, tau2):
    return sqrt(v / (v + tau2)) * exp(tau2 * d * d / (2 * v * (v + tau2)))


def half(v, tau2, alpha):
    return sqrt(v * (v + tau2) / tau2 * (log((v + tau2) / v) - 2 * log(alpha)))


def means(n1, m1, s1, n2, m2, s2, alpha=mpf("0.05"), sequential_mde=None):
    for name, n, m, s in (("control", n1, m1, s1), ("treatment", n2, m2, s2)):
        h = t_q(1 - alpha / 2, n - 1) * s / sqrt(n)
        show(f"  {name} value", m)
        show(f"  {name} ci", m - h)
        show(f"  {name} ci high", m + h)
    a, b = s1**2 / n1, s2**2 / n2
    v = a + b
    df = v**2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
    d = m2 - m1
    t = d / sqrt(v)
    q = t_q(1 - alpha / 2, df)
    show("  t", t)
    show("  df", df)
    show("  p", 2 * t_cdf(-abs(t), df))
    show("  abs lift", d)
    show("  abs low", d - q * sqrt(v))
    show("  abs high", d + q * sqrt(v))
    r = m2 / m1 - 1
    vr = b / m1**2 + m2**2 * a / m1**4
    show("  rel lift", r)
    show("  rel low", r - q * sqrt(vr))
    show("  rel high", r + q * sqrt(vr))
    if sequential_mde is not None:
        sequential(d, v, v, r, vr, abs(m1), sequential_mde, alpha)


def chi_square(observed, weights):
    total, wsum = sum(observed), sum(weights)
    chi = sum((mpf(o) - total * w / wsum) ** 2 / (total * w / wsum) for o, w in zip(observed, weights))
    df = len(observed) - 1
    show("  chi2", chi)
    show("  p", gammainc(mpf(df) / 2, chi / 2, mp.inf, regularized=True))


def sample_size_proportion(p1, mde, alpha=mpf("0.05"), power=mpf("0.8")):
    p2 = p1 * (1 + mde)
    za, zb = norm_q(1 - alpha / 2), norm_q(power)
    pb = (p1 + p2) / 2
    n = (za * sqrt(2 * pb * (1 - pb)) + zb * sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (p2 - p1) ** 2
    show("  n (unrounded)", n)
    show("  n", ceil(n))


def sample_size_mean(m, sd, mde, alpha=mpf("0.05"), power=mpf("0.8")):
    za, zb = norm_q(1 - alpha / 2), norm_q(power)
    n = 2 * (za + zb) ** 2 * sd**2 / (mde * m) ** 2
    show("  n (unrounded)", n)
    show("  n", ceil(n))


print("Usable Stats two proportions: 80/3303 (control) vs 118/3303, sequential MDE 0.1")
proportions(80, 3303, 118, 3303, sequential_mde=mpf("0.1"))
print("NIST AUTO83B Welch: US n=249 m=20.14458 s=6.41470 (control) vs Japan n=79 m=30.48101 s=6.10771, sequential MDE 0.1")
means(249, mpf("20.14458"), mpf("6.41470"), 79, mpf("30.48101"), mpf("6.10771"), sequential_mde=mpf("0.1"))
print("Three arms: 200/1000 (control), 230/1000, 260/1000")
proportions(200, 1000, 230, 1000)
proportions(200, 1000, 260, 1000)
print("SRM 50500/49500 at 1:1")
chi_square([50500, 49500], [1, 1])
print("SRM 1000/1100/900 at 0.5/0.3/0.2")
chi_square([1000, 1100, 900], [mpf("0.5"), mpf("0.3"), mpf("0.2")])
print("SRM 5000/5080 at 1:1")
chi_square([5000, 5080], [1, 1])
print("Sample size, proportion 0.1, MDE 0.2")
sample_size_proportion(mpf("0.1"), mpf("0.2"))
print("Sample size, proportion 0.05, MDE 0.1")
sample_size_proportion(mpf("0.05"), mpf("0.1"))
print("Sample size, mean 10 sd 2, MDE 0.05")
sample_size_mean(mpf(10), mpf(2), mpf("0.05"))
print("Mixing variance for delta 1, alpha 0.05")
show("  tau2", mixing(mpf(1), mpf("0.05")))
