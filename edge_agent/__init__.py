"""Edge agent: capture → detect → track → project → uplink, for one edge box with one or more cameras."""

__version__ = "0.1.0"
