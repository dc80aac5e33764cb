"""Output filtering: detect and mask (or refuse) private information in generated text."""
