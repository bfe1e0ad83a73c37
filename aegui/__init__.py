"""Autoencoder Studio: design, train and explore autoencoders."""
__version__ = "0.1.0"
