"""Incremental and parallel synth (issue 22): per-object results reused from a cache outside the repo
(``store``), computed in forked workers (``parallel``), through the steps synth runs (``steps``)."""
