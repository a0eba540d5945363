"""General helpers every room may use: project paths, private files, JSON files."""
