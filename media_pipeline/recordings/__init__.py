"""Media work on recorded performances: probe, libav analysis, copies, fingerprints, waveforms, reels."""
