//! The client-facing side: MS-WUSP web services and `/Content/...` downloads for local
//! Windows clients. It reads the replica (`store`) and cached bytes (`content`); it never
//! talks to the upstream itself.
//!
//! So far: HTTP `Range` resolution for content downloads.

pub mod range;
