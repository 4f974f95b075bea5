"""service: the journal, undo, supervised children, facts, and the resident loop."""
