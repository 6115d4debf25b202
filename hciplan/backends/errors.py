"""The error a backend raises for a plan it cannot express; a leaf module, so backends import it without a cycle."""

from __future__ import annotations


class BackendUnsupported(Exception):
    """The plan cannot be expressed by this backend; the message says why and what to use instead."""
