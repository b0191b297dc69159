"""File-drop source: files dropped in a watched directory become events (see :mod:`connectors.file.source`)."""
