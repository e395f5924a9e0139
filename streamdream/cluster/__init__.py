"""`video --cluster`: one film rendered in chunks on many workers (Ray), joined without re-encoding."""
