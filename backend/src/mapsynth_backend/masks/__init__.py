"""Building masks: OSM evidence per building, the fuzzy rule base, coverage rasters."""
