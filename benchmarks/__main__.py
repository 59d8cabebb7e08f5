"""All benchmarks, each appending its results (machine and date) to benchmarks/RESULTS.md.

    .venv/bin/python -m benchmarks          (or: make bench)
"""
from benchmarks import (analyze_batches, api_latency, detection_quality, detection_throughput, ingest_throughput,
                        insight_tokens, live_lag, load, novelty_throughput, samples_write, skab)

for run in (lambda: ingest_throughput.main(["--laps", "57", "--repeat", "3"]),
            lambda: detection_throughput.main(["--write"]),
            lambda: analyze_batches.main(["--write"]),
            lambda: samples_write.main(["--write"]),
            lambda: detection_quality.main(["--seeds", "1", "2", "3", "4", "5", "--laps", "57", "--write"]),
            lambda: skab.main(["--write"]),
            lambda: novelty_throughput.main(["--write"]),
            lambda: api_latency.main(["--write"]),
            lambda: insight_tokens.main(["--write"]),
            lambda: load.main(["--write"]),
            lambda: live_lag.main([])):
    if run():
        raise SystemExit(1)
