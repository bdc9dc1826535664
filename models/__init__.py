"""Networks, STFT, query encoders and checkpoint loading."""
