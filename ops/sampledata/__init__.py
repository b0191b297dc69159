"""The sample world and its platform exports (issue 7): generated once, committed under ops/samples/platforms."""
