"""NMPA (国家药品监督管理局) drug traceability: 码上放心-style XML exports of code associations and shipments."""
