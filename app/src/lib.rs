//! The `signcap` application: the desktop app ([`gui`]) and the headless subcommands ([`cli`]).
//! A library so that the GUI tests and `signcap bench ui` can build the real app.

pub mod cli;
pub mod gui;
