"""tooltune: turn small language models into personal tool-using agents, and measure them."""

__version__ = "0.1.0"
