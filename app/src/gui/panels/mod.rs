//! One module per panel of the window; each adds the `App` methods that draw it. `App` itself
//! (in `app.rs`) drains the workers and routes to these.

pub mod captions;
mod inspector;
mod menu;
pub mod model;
mod player;
mod settings_window;
mod start;
mod video;
