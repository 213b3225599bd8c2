//! What the module knows of a call center, free of FreeSWITCH and of any
//! database: the copied event (`event`), the assembly of queue visits from
//! events (`visit`) and of agent activity (`agent`), and the rows and store
//! operations they produce (`rows`), which the writer hands to `store`.
//! `columns` are the admin's own columns of channel variables.
//! `capture` reads the captured event text of the fixtures and tools.

pub mod agent;
pub mod capture;
pub mod columns;
pub mod event;
pub mod rows;
pub mod visit;
