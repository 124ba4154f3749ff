"""What is checked: the formula record (formula.py), the network (network.py) and the one adapter between
the canonical layout and the documents' conventions (convention.py)."""
