"""Amaranth streaming components, one op per module; :mod:`hwgen.hw.network` chains them."""
