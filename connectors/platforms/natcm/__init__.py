"""NATCM (国家中医药管理局) herb traceability platform: CSV exports of planting, processing, slices and sales."""
