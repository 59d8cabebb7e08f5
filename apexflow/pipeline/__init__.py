"""The pipeline's stages, in the data's order: ingest (and its pacing, replay; its scheduling, schedule), live,
analyze; and detect_file, the generic detectors on one file."""
