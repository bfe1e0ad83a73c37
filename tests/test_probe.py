"""The probe fixture measures the child, not the parent it was forked from."""
import numpy as np
def test_probe(probe):
    ballast = np.ones(250_000_000)  # 2 GB in this parent: a child must not inherit it as its peak
    p = probe(["-c", "import numpy as np; a=np.ones(50_000_000); print('ok')"])
    assert p.rc == 0 and p.stdout.strip() == "ok"
    assert 380 < p.peak_mb < 600, p
    q = probe(["-c", "import numpy as np; a=np.ones(200_000_000)"], rss_limit_mb=1000)
    assert q.rc == 1 and "MemoryError" in q.stderr, q
    r = probe(["main.py", "presets"], cwd="/work/main")
    assert r.rc == 0 and "vae" in r.stdout and r.peak_mb < 500, r
    del ballast
