"""seqmodels: readable recurrent sequence models, proven equal to torch.nn."""

__version__ = "0.1.0"
