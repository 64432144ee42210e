"""Synthesis (placeholder)."""
from .oscillators import *  # noqa
from .oscillators import __all__ as _osc_all

__all__ = [*_osc_all]
