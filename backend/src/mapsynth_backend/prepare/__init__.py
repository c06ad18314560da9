"""Data preparation: Sentinel-2 reading and cropping onto the grid, training datasets, derived land-cover maps."""
