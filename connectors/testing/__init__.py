"""Test doubles and conformance kits shipped with the code (never imported by production paths)."""
