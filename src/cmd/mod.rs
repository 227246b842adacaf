//! One file per subcommand.

pub mod eval_sentiment;
pub mod sentiment;
