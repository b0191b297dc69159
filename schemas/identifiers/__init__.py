"""Identifiers the departments use: GS1 keys and EPC URNs, Chinese codes, and tracebus's private URIs.

Each module checks one family and explains every rejection precisely
(:class:`~schemas.identifiers.errors.IdentifierError` carries the check that
failed and the 1-based position it failed at).
"""
