//! Helpers shared by the test modules: Arrow column readers and builders (`arrays`), plans built for the
//! tests with their step prices and plan-error checks (`plans`), and checks of a simulation's output
//! (`checks`).

mod arrays;
mod checks;
mod plans;

pub use arrays::*;
pub use checks::*;
pub use plans::*;
