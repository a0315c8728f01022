"""Task heads built on seqmodels layers (torch only)."""
