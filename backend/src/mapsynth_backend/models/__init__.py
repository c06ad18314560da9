"""The model families: model cards, the pixel family and the controlnet-sd15 family."""
