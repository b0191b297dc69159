"""GACC (海关总署) import food platform: customs declarations (报关单) of imported food, as XML exports."""
