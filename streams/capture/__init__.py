"""EPCIS 2.0 capture (REST binding): POST /capture, GET /capture/{id}."""
