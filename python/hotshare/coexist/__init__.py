"""coexist: other firewalls on the same hooks, evaluated over model packets, and the remedies. Pure."""
