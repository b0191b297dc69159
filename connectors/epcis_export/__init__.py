"""EPCIS 2.0 document export: each delivered batch as one ``EPCISDocument`` JSON-LD file."""
