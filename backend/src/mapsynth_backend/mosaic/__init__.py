"""Mosaic assembly: the command (I/O, COG, metrics), the row assembler (choice, cuts, placement) and seams."""
