"""The acoustic propagator's Go calls: tw_acoustic_args, the history plans
and the chunk runner."""

from __future__ import annotations


def core_args(setup, models):
    raise NotImplementedError("the Go core of acoustic is not built yet: use python_backend=True")
