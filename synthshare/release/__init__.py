"""The release package: synthetic NIfTI + sidecars, nnU-Net export, documents, manifest, signature, verify."""
