"""Departmental platform connectors (issue 7): each platform's native exports → EPCIS events with the traceability extension."""
