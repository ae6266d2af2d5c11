//! The Uni-Sign model: pose encoder (ST-GCN per body part) and mT5, loaded from official checkpoints.
