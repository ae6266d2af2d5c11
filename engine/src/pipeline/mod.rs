//! The live pipeline around the model: cutting the pose stream into utterances and more.

pub mod segmenter;
