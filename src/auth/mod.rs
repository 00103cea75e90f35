//! Who is asking: identities and their secrets (SigV4 verification follows).

pub mod canonical;
pub mod error;
pub mod identity;
pub mod secret;
