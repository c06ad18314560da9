"""Training: the train-model command, its dataset reading and its validation outputs."""
