"""`python -m bench` (what `make bench` runs): every benchmark, one after the other."""

from __future__ import annotations

from . import accuracy, browser, dashboard, operations, speed

if __name__ == "__main__":
    for bench in (accuracy, speed, dashboard, browser, operations):
        print(f"\n=== bench.{bench.__name__.rsplit('.', 1)[-1]} ===", flush=True)
        status = bench.main([])
        if status:
            raise SystemExit(status)
