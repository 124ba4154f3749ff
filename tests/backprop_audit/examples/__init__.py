"""The worked claims example: Nielsen's BP1-BP4 and a user's own network code wrapped as claims
(`backprop-audit check .../examples/nielsen_book.py`)."""
