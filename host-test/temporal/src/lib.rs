//! A Temporal worker for the Darktrace connector: every action of the component is an activity
//! of the same name, run in the host-test sandbox against a connection saved in the worker's
//! own store. See README, "Running at scale on Temporal".

pub mod activities;
pub mod contract;
pub mod dedupe;
pub mod executor;
