"""The window's panels: builder, data, dashboard container, latent explorer, canvas."""
