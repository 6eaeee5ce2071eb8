//! Tests of the whole rate limiter: property tests of the bounds (`props`), seeded
//! scenarios (`scenarios`), real threads over one cell (`threads`); the first two run
//! on the simulation in `sim`.

mod props;
mod scenarios;
mod sim;
mod threads;
