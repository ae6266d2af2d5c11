//! Fine-tuning on the user's own clips.
