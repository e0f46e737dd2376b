"""The one error of the shared helpers; callers translate it into their own error family."""

from __future__ import annotations


class GeometryError(ValueError):
    """Invalid points, homography or polygon. ``message`` is a sentence a person can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
