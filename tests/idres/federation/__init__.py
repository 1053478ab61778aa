"""Federation: upstream registration, resolution routing, topology."""
