"""doctor: facts, probes and checks for the problems that break hotspots in the field."""
