//! Who is asking: identities and their secrets (SigV4 verification follows).

pub mod identity;
pub mod secret;
