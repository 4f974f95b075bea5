"""Checks of the Buildroot external tree (configs/, package/, board/, support/)."""
