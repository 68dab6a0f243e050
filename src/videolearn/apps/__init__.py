"""Applications over the library and its extractors: transcription, and later search,
recommendation and moderation."""
