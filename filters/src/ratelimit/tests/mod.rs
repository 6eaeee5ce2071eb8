//! Tests of the whole rate limiter: property tests of the bounds (`props`), seeded
//! scenarios (`scenarios`), instances over a remote cell with round trips (`remote`),
//! real threads over one cell (`threads`), fail-open credit over a remote cell
//! (`credit`); props and scenarios run on `sim`.

mod credit;
mod props;
mod remote;
mod scenarios;
mod sim;
mod threads;
