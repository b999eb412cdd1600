//! Host tests of the supervision policy: the state table row by row, scenarios, and
//! property tests over random interleavings of events.

mod idle;
mod intensity;
mod invariants;
mod merge;
mod rig;
mod scenarios;
mod starvation;
mod state_table;
