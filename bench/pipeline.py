"""Pipeline benchmark; the code lives in :mod:`ops.bench_pipeline` so ``tracebus bench pipeline`` runs it too."""

from ops.bench_pipeline import main

if __name__ == "__main__":
    main()
