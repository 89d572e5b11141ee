pub(crate) mod listener;

// httpsim patch: the segment queue of a stream (was a tokio mpsc channel).
pub(crate) mod queue;

mod split_owned;
pub use split_owned::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};

pub(crate) mod stream;
