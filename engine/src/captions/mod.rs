//! Timed captions and their files (SRT, WebVTT, JSON).
