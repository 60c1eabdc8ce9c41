"""Peak memory per stage is the stage's own: a later, smaller stage does not inherit an earlier peak."""
import numpy as np

from repro.pipeline import StageClock


def test_each_stage_reports_its_own_peak():
    clock = StageClock()
    with clock.stage("big"):
        block = np.ones(300 * 2**20 // 8)  # 300 MB, touched
        del block
    with clock.stage("small"):
        np.ones(2**20).sum()
    big, small = clock.stages["big"], clock.stages["small"]
    assert big["peak_rss_mb"] - big["rss_at_start_mb"] >= 250
    assert small["peak_rss_mb"] < big["peak_rss_mb"] - 200  # ru_maxrss would report the big peak again
