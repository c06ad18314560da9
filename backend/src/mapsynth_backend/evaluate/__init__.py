"""Evaluation: the command (metrics), the HTML report and the local FID feature network."""
