"""Published results of the W_1 benchmark, quoted as such.

Korotin, Kolesov & Burnaev (2022), "Kantorovich Strikes Back! Wasserstein GANs are not
Optimal Transport?", NeurIPS Datasets and Benchmarks; repository justkolesov/Wasserstein1Benchmark
(MIT licence), files metrics/metrics_nd/dim_D/width_W/metrics_deg_8_seed_2.csv: for each
(D, W) and method, the estimated W_1 (column "cost", critic on 4096 fresh samples; for "true"
the Monte-Carlo mean move over 4096 plan pairs, for "dot" the exact OT between 4096 + 4096
samples) and the mean cosine between the learned and the true potential gradients at 4096
source samples (column "cos"), rounded here to 4 digits.  One training seed per cell.
"""

__all__ = ["PUBLISHED", "PUBLISHED_METHOD"]

#: The published method that corresponds to each otlab critic.
PUBLISHED_METHOD = {"clip": "wgan", "gp": "wgan-gp", "lp": "wgan-lp", "sn": "sn-gan",
                    "exact": "dot", "true": "true"}

_TABLE = """
   D    W method        cost      cos
   2    4 true        0.8174        1
   2    4 wgan       0.03069  0.07222
   2    4 wgan-gp     0.8571   0.8446
   2    4 wgan-lp      0.885   0.8176
   2    4 sn-gan      0.1522   0.2131
   2    4 dot         0.8196   0.8585
   2   16 true        0.4662        1
   2   16 wgan        0.0441  0.07032
   2   16 wgan-gp     0.4221   0.6812
   2   16 wgan-lp     0.4786   0.8103
   2   16 sn-gan      0.0786   0.1557
   2   16 dot         0.4739   0.8431
   2   64 true        0.2303        1
   2   64 wgan     -0.005057  0.06542
   2   64 wgan-gp     0.1268   0.3545
   2   64 wgan-lp     0.2237   0.6764
   2   64 sn-gan    0.003352  0.07457
   2   64 dot         0.2368    0.717
   2  256 true        0.1336        1
   2  256 wgan     -0.006772  0.01444
   2  256 wgan-gp    0.04124   0.1922
   2  256 wgan-lp      0.105   0.4944
   2  256 sn-gan   -0.0007554  0.03664
   2  256 dot         0.1518   0.5216
   4    4 true         1.385        1
   4    4 wgan        0.4061   0.2674
   4    4 wgan-gp      1.447   0.9495
   4    4 wgan-lp      1.482   0.9489
   4    4 sn-gan      0.4419   0.3599
   4    4 dot          1.434   0.8416
   4   16 true         1.003        1
   4   16 wgan        0.1912  0.09349
   4   16 wgan-gp      1.056   0.8622
   4   16 wgan-lp      1.058   0.9001
   4   16 sn-gan      0.1801   0.2367
   4   16 dot          1.072   0.7723
   4   64 true        0.7098        1
   4   64 wgan       0.05609  0.08963
   4   64 wgan-gp     0.5783   0.6708
   4   64 wgan-lp     0.6877    0.817
   4   64 sn-gan     0.07602   0.1455
   4   64 dot         0.7993   0.6577
   4  256 true        0.4916        1
   4  256 wgan       0.01804  0.03795
   4  256 wgan-gp     0.2234   0.3734
   4  256 wgan-lp     0.3866   0.6555
   4  256 sn-gan     0.02092  0.09888
   4  256 dot         0.6379    0.472
   8    4 true         1.882        1
   8    4 wgan         1.109   0.3409
   8    4 wgan-gp      1.998   0.9612
   8    4 wgan-lp      1.984   0.9612
   8    4 sn-gan      0.5908   0.3541
   8    4 dot           2.42   0.5619
   8   16 true         1.585        1
   8   16 wgan        0.6048   0.2136
   8   16 wgan-gp        1.7   0.9246
   8   16 wgan-lp      1.662   0.9246
   8   16 sn-gan      0.3378   0.2611
   8   16 dot          2.192   0.4738
   8   64 true         1.259        1
   8   64 wgan        0.2101   0.1197
   8   64 wgan-gp      1.163   0.8171
   8   64 wgan-lp      1.182   0.8273
   8   64 sn-gan      0.1794   0.1863
   8   64 dot          1.924   0.3317
   8  256 true         1.008        1
   8  256 wgan        0.0943  0.09991
   8  256 wgan-gp     0.7097   0.5887
   8  256 wgan-lp     0.7825   0.6784
   8  256 sn-gan     0.08175   0.1255
   8  256 dot          1.791   0.1995
  16    4 true         1.941        1
  16    4 wgan         1.723   0.3325
  16    4 wgan-gp      2.071   0.9642
  16    4 wgan-lp      2.122   0.9636
  16    4 sn-gan       0.633   0.3522
  16    4 dot          4.129   0.1761
  16   16 true         1.738        1
  16   16 wgan         1.588   0.2399
  16   16 wgan-gp      1.813   0.9125
  16   16 wgan-lp      1.807   0.9212
  16   16 sn-gan      0.4633   0.2538
  16   16 dot           4.04   0.1157
  16   64 true         1.554        1
  16   64 wgan        0.5202   0.1537
  16   64 wgan-gp      1.356   0.7846
  16   64 wgan-lp      1.348    0.783
  16   64 sn-gan      0.1947   0.1628
  16   64 dot          3.982    0.059
  16  256 true         1.399        1
  16  256 wgan        0.2854   0.1552
  16  256 wgan-gp     0.9137    0.607
  16  256 wgan-lp     0.9112   0.5982
  16  256 sn-gan      0.1414   0.1761
  16  256 dot          3.932 0.001198
  32    4 true         1.822        1
  32    4 wgan         2.846   0.4021
  32    4 wgan-gp       1.98   0.9547
  32    4 wgan-lp      1.917   0.9489
  32    4 sn-gan      0.7327   0.4195
  32    4 dot          7.256 -0.08666
  32   16 true          1.67        1
  32   16 wgan        0.9953   0.2049
  32   16 wgan-gp      1.711   0.8978
  32   16 wgan-lp      1.613    0.899
  32   16 sn-gan      0.2911   0.2154
  32   16 dot           7.23  -0.1338
  32   64 true         1.543        1
  32   64 wgan        0.5211   0.1818
  32   64 wgan-gp      1.191   0.7283
  32   64 wgan-lp      1.177   0.7298
  32   64 sn-gan      0.1909   0.1409
  32   64 dot          7.233   -0.149
  32  256 true         1.412        1
  32  256 wgan        0.2968   0.1691
  32  256 wgan-gp     0.8707   0.5626
  32  256 wgan-lp     0.8017   0.5494
  32  256 sn-gan      0.1214   0.1427
  32  256 dot          7.261  -0.1488
  64    4 true         1.411        1
  64    4 wgan         3.312   0.3869
  64    4 wgan-gp      1.378   0.9182
  64    4 wgan-lp       1.46   0.9225
  64    4 sn-gan      0.6542   0.4328
  64    4 dot          12.01  -0.2805
  64   16 true          1.36        1
  64   16 wgan         1.312   0.1966
  64   16 wgan-gp      1.092   0.7503
  64   16 wgan-lp      1.146   0.7554
  64   16 sn-gan      0.3196    0.221
  64   16 dot          12.05  -0.2598
  64   64 true         1.317        1
  64   64 wgan        0.7015   0.1304
  64   64 wgan-gp     0.8144   0.6059
  64   64 wgan-lp     0.8326   0.5985
  64   64 sn-gan      0.1523   0.1182
  64   64 dot          12.07  -0.2621
  64  256 true         1.283        1
  64  256 wgan        0.3574   0.1386
  64  256 wgan-gp     0.6737    0.531
  64  256 wgan-lp     0.6934   0.5272
  64  256 sn-gan      0.1249   0.1108
  64  256 dot          12.09  -0.2589
 128    4 true         1.142        1
 128    4 wgan         9.441   0.3619
 128    4 wgan-gp      1.136   0.9229
 128    4 wgan-lp      1.144   0.9256
 128    4 sn-gan      0.3695   0.3705
 128    4 dot          18.88  -0.3504
 128   16 true         1.072        1
 128   16 wgan         5.913   0.2101
 128   16 wgan-gp     0.9195   0.7988
 128   16 wgan-lp     0.8722   0.7543
 128   16 sn-gan      0.2857   0.2337
 128   16 dot           18.9  -0.3586
 128   64 true         1.045        1
 128   64 wgan         2.797   0.1407
 128   64 wgan-gp     0.7109   0.6414
 128   64 wgan-lp     0.6866   0.6227
 128   64 sn-gan      0.1915   0.1391
 128   64 dot          18.92  -0.3475
 128  256 true         1.042        1
 128  256 wgan          1.09   0.1115
 128  256 wgan-gp     0.6016   0.5621
 128  256 wgan-lp     0.6402   0.5627
 128  256 sn-gan     0.09859  0.09446
 128  256 dot          18.93  -0.3428
"""


def _parse(table: str) -> dict:
    out: dict = {}
    for line in table.strip().splitlines()[1:]:
        d, w, method, cost, cos = line.split()
        out.setdefault((int(d), int(w)), {})[method] = (float(cost), float(cos))
    return out


#: (D, W) -> published method -> (W_1 estimate, cosine).
PUBLISHED = _parse(_TABLE)
