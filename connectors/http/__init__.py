"""HTTP push source: platforms POST records, answered once they are on the bus (see :mod:`connectors.http.source`)."""
