"""Evidence clips with hashes, chain of custody, export bundles and retention."""
