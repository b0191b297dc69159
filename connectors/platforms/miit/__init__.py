"""MIIT infant formula traceability platform: production batches and their shipments."""
