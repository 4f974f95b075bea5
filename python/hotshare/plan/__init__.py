"""plan: the system model, the whole plan of a hotspot, and the files rendered from it. Pure."""
