"""Encoders: pure functions from decoded inputs to float32 arrays, behind a name registry."""
