"""The FFT extension."""
