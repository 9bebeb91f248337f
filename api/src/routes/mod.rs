//! One module per resource of `/api/v1`.

pub mod batches;
pub mod events;
pub mod fleet;
pub mod reports;
pub mod upload;
pub mod vehicles;
