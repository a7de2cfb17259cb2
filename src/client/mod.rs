//! Writes to the API server that the operator's shell and the `kubectl dc` plugin both make, the
//! same way: neither reaches into the other for them. Pure decisions stay in `api`, `image` and
//! `strategy`; this is only the I/O they share.

pub mod image_tags;
