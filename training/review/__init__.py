"""What the review notebooks call, one module per notebook (model_review, data_profile) and the
versions both look at (versions)."""
