//! Headless subcommands. Each file holds one command's arguments and its `run`.

pub mod bench_live;
pub mod bench_model;
pub mod bench_pose;
pub mod bench_soak;
pub mod bench_ui;
pub mod caption;
pub mod convert;
pub mod eval;
pub mod live;
pub mod machine;
pub mod model_args;
pub mod models;
pub mod pose;
pub mod translate;
