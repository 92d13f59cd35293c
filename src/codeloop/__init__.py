"""codeloop: Gemini-style code execution, self-hosted, for any model."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
