"""The cascaded generator's networks: semi-supervised VAE, latent denoisers, schedulers, audit scores."""
